// The order desk's scenarios, store, tools and environment, on hand-played episodes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ORDER_DESK_INTENTS,
  ORDER_DESK_POLICY,
  OrderDeskEnvironment,
  addressChangeAllowed,
  orderDesk,
  orderDeskCorpus,
  orderDeskScenarios,
  refundAllowed,
} from '../src/index.js';
import { call, playEpisode, scenarioOf } from './helpers/order-desk.js';

test('held-out scenarios use order ids, items, streets and wordings that training and the corpus never show', async () => {
  const train = orderDeskScenarios('train');
  const heldout = orderDeskScenarios('heldout');
  for (const intent of ORDER_DESK_INTENTS) {
    for (const split of [train, heldout]) {
      assert.ok(split.some((s) => s.metadata.intent === intent && s.metadata.idFirst), `${intent}: the id in the first message`);
      assert.ok(split.some((s) => s.metadata.intent === intent && !s.metadata.idFirst), `${intent}: the id in the second message`);
    }
  }
  assert.equal(new Set([...train, ...heldout].map((s) => s.id)).size, train.length + heldout.length, 'scenario ids are unique');
  const corpusText = JSON.stringify(await orderDeskCorpus(train, { copies: 1 }));
  const trainLines = new Set(train.flatMap((s) => s.userTurns.map((line) => line.replace(/#[A-Z]{4}/g, '#').replace(s.metadata.order.item, '@'))));
  for (const s of heldout) {
    const { order, newAddress } = s.metadata;
    assert.ok(!corpusText.includes(order.id), `${s.id}: its order id is unseen`);
    assert.ok(!corpusText.includes(order.item), `${s.id}: its item (${order.item}) is unseen`);
    if (newAddress) assert.ok(!corpusText.includes(newAddress.replace(/^\d+ /, '')), `${s.id}: its street is unseen`);
    const wording = s.userTurns[0].replace(/#[A-Z]{4}/g, '#').replace(order.item, '@');
    assert.ok(!trainLines.has(wording), `${s.id}: its opening wording is unseen`);
  }
  assert.deepEqual(orderDeskScenarios('train'), train, 'the same list every time');
});

test('each scenario gives the order id in the first or second message, and its order fits its intent under the policy', () => {
  for (const s of [...orderDeskScenarios('train'), ...orderDeskScenarios('heldout')]) {
    const { order, intent, request, idFirst, expected } = s.metadata;
    const withId = s.userTurns.findIndex((line) => line.includes(order.id));
    assert.equal(withId, idFirst ? 0 : 1, s.id);
    assert.equal(s.userTurns.length, idFirst ? 2 : 3, `${s.id}: then one follow-up`);
    assert.equal(orderDesk().book.get(order.id), order, 'the store holds the order');
    assert.deepEqual(expected[0], { name: 'lookup_order', arguments: { id: order.id } }, 'look up first');
    if (intent === 'refund') assert.ok(refundAllowed(order), s.id);
    if (intent === 'address') assert.ok(addressChangeAllowed(order), s.id);
    if (intent === 'forbidden') {
      assert.ok(request === 'refund' ? !refundAllowed(order) : !addressChangeAllowed(order), s.id);
      assert.equal(expected[1].name, 'escalate');
    }
  }
});

test('the tools act on a store of the episode: lookups describe the order, a second refund fails, episodes never share changes', async () => {
  const scenario = scenarioOf('refund', true);
  const { order } = scenario.metadata;
  const environment = new OrderDeskEnvironment();
  const first = await playEpisode(scenario, [call('lookup_order', { id: order.id }), call('refund_order', { id: order.id, reason: 'broken' }), call('refund_order', { id: order.id, reason: 'again' })], environment);
  assert.equal(first.messages[0].content, ORDER_DESK_POLICY, 'the policy is the system prompt');
  const results = first.turns.map((t) => t.replies[0]);
  assert.equal(results[0].role, 'tool');
  assert.equal(results[0].content, `Order ${order.id}: ${order.item}, ${order.total}, delivered ${order.date}, refundable.`);
  assert.equal(results[1].content, `Refunded ${order.total} for order ${order.id}.`);
  assert.match(results[2].content, new RegExp(`^Error: refund_order failed: order ${order.id} was already refunded`));
  assert.deepEqual(first.turns.map((t) => t.toolCalls.map((c) => c.ok)), [[true], [true], [false]]);

  // The same scenario again, as another member of its group: its store never saw the refund.
  const second = await playEpisode(scenario, [call('refund_order', { id: order.id, reason: 'broken' })], environment);
  assert.equal(second.turns[0].replies[0].content, `Refunded ${order.total} for order ${order.id}.`);
});

test('unknown orders, bad arguments and unreadable calls come back as error messages; the case number comes from escalate', async () => {
  const scenario = scenarioOf('forbidden', true);
  const episode = await playEpisode(scenario, [
    call('lookup_order', { id: '#ZZZZ' }),
    call('change_address', { id: scenario.metadata.order.id }),
    '<tool_call>{"name": "lookup_order", "arguments": {"id": </tool_call>',
    call('escalate', { reason: 'final sale' }),
  ]);
  const [unknown, badArgs, unreadable, escalated] = episode.turns.map((t) => t.replies[0].content);
  assert.match(unknown, /^Error: lookup_order failed: there is no order #ZZZZ/);
  assert.match(badArgs, /^Error: invalid arguments for change_address: address/);
  assert.match(unreadable, /^Error: the tool call is not valid JSON/);
  assert.equal(escalated, `Escalated as case ${scenario.metadata.caseNumber}.`);
});

test('the scripted customer gives the id when it is second, follows up once, and the episode ends', async () => {
  const scenario = scenarioOf('status', false);
  const episode = await playEpisode(scenario, ['What is your order number?', call('lookup_order', { id: scenario.metadata.order.id }), 'It ships soon.', 'Bye.']);
  const customer = episode.messages.filter((m) => m.role === 'user').map((m) => m.content);
  assert.deepEqual(customer, scenario.userTurns);
  assert.equal(episode.doneReason, 'max_turns', 'three replies to the customer');
});

test('an episode stuck calling tools ends after six assistant messages', async () => {
  const scenario = scenarioOf('status', true);
  const lookup = call('lookup_order', { id: scenario.metadata.order.id });
  const episode = await playEpisode(scenario, [lookup, 'On its way.', lookup, lookup, lookup, lookup]);
  assert.equal(episode.turns.length, 6);
  assert.equal(episode.doneReason, 'max_steps');
});
