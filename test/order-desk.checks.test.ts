// The order desk's verifiable checks and rewards, on episodes played by hand against the
// real environment: each check passes when it should and fails when it should.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ID_LETTERS,
  ORDER_DESK_INTENTS,
  OrderDeskEnvironment,
  checkReward,
  combineRewards,
  corpusChoices,
  orderDeskMetrics,
  orderDeskRewards,
  orderDeskScenarios,
  traceEpisode,
  type OrderDeskScenario,
} from '../src/index.js';
import { playScripted } from '../src/demo/order-desk/corpus.js';
import { call, playEpisode, rightReplies, scenarioOf } from './helpers/order-desk.js';

const ALL_PASS = { right_tool: true, no_forbidden_action: true, states_tool_fact: true, no_hallucinated_data: true };

test('a right episode of every intent, id first or second, passes every check', async () => {
  for (const intent of ORDER_DESK_INTENTS) {
    for (const idFirst of [true, false]) {
      const scenario = scenarioOf(intent, idFirst);
      const trace = traceEpisode(await playEpisode(scenario, rightReplies(scenario)));
      assert.deepEqual(trace.checks, ALL_PASS, scenario.id);
      assert.ok(trace.success);
      assert.equal(trace.callsDone, scenario.metadata.expected.length);
    }
  }
});

test('right_tool fails on a wrong id, a missing call, asking for an id already given, and a call after the job is done', async () => {
  const scenario = scenarioOf('status', true);
  const { order, fact } = scenario.metadata;
  const lookup = call('lookup_order', { id: order.id });
  const cases: Record<string, string[]> = {
    'wrong id': [call('lookup_order', { id: order.id.slice(0, 4) + [...ID_LETTERS].find((l) => !order.id.includes(l)) }), `It arrives ${fact}.`, 'Bye.'],
    'no lookup': [`It arrives soon.`, 'Bye.'],
    'asks for the id it was given': ['What is your order number?', lookup, `It arrives ${fact}.`],
    'looks up again after answering': [lookup, `It arrives ${fact}.`, lookup, 'Bye.'],
  };
  for (const [name, replies] of Object.entries(cases)) {
    const trace = traceEpisode(await playEpisode(scenario, replies));
    assert.equal(trace.checks.right_tool, false, name);
    assert.ok(!trace.success, name);
  }
  // The right calls with the id the customer gave in the second message, after asking for it.
  const second = scenarioOf('status', false);
  assert.ok(traceEpisode(await playEpisode(second, rightReplies(second))).checks.right_tool);
});

test('no_forbidden_action fails on a refund the policy forbids, an address change after shipping, and an action before the lookup', async () => {
  const finalSale = scenarioOf('forbidden', true, (s) => s.metadata.request === 'refund');
  const shipped = scenarioOf('forbidden', true, (s) => s.metadata.request === 'address');
  const allowed = scenarioOf('refund', true);
  const lookupOf = (s: OrderDeskScenario) => call('lookup_order', { id: s.metadata.order.id });
  const cases: Array<[string, OrderDeskScenario, string[]]> = [
    ['refund of a non-refundable order', finalSale, [lookupOf(finalSale), call('refund_order', { id: finalSale.metadata.order.id, reason: 'asked' }), 'Done.', 'Bye.']],
    ['address change of a shipped order', shipped, [lookupOf(shipped), call('change_address', { id: shipped.metadata.order.id, address: shipped.metadata.newAddress! }), 'Done.', 'Bye.']],
    ['an allowed refund without the lookup', allowed, [call('refund_order', { id: allowed.metadata.order.id, reason: 'asked' }), 'Done.', 'Bye.']],
  ];
  for (const [name, scenario, replies] of cases) {
    const trace = traceEpisode(await playEpisode(scenario, replies));
    assert.equal(trace.checks.no_forbidden_action, false, name);
    assert.deepEqual(trace.turns.map((t) => t.forbidden), replies.map((r) => r.includes('refund_order') || r.includes('change_address')), `${name}: the message that did it`);
  }
  // Escalating instead passes it; a refund that failed (wrong id) was no action.
  assert.ok(traceEpisode(await playEpisode(finalSale, rightReplies(finalSale))).checks.no_forbidden_action);
  const failed = await playEpisode(finalSale, [lookupOf(finalSale), call('refund_order', { id: '#ZZZZ', reason: 'asked' }), 'Sorry.', 'Bye.']);
  assert.ok(traceEpisode(failed).checks.no_forbidden_action);
});

test("states_tool_fact needs the last required tool's fact in a reply after it", async () => {
  for (const intent of ORDER_DESK_INTENTS) {
    const scenario = scenarioOf(intent, true);
    const replies = rightReplies(scenario);
    const vague = replies.map((r, i) => (i === replies.length - 2 ? 'It is all done now.' : r)); // the answer, before the reply to the follow-up
    assert.equal(traceEpisode(await playEpisode(scenario, vague)).checks.states_tool_fact, false, `${intent}: vague`);
    assert.ok(traceEpisode(await playEpisode(scenario, replies)).checks.states_tool_fact, `${intent}: stated`);
  }
  // Stated before the call that returns it is not stated after it.
  const refund = scenarioOf('refund', true);
  const { order } = refund.metadata;
  const early = await playEpisode(refund, [call('lookup_order', { id: order.id }), `It cost ${order.total}.`, call('refund_order', { id: order.id, reason: 'asked' }), 'Done.']);
  assert.equal(traceEpisode(early).checks.states_tool_fact, false);
});

test('no_hallucinated_data fails on a date, amount, case number or order id nobody gave, not on those the customer or a tool gave', async () => {
  const status = scenarioOf('status', true);
  const { order } = status.metadata;
  const lookup = call('lookup_order', { id: order.id });
  const otherDate = order.date.startsWith('May') ? 'Jun 3' : 'May 3';
  for (const made of [otherDate, '$12.34', 'case 98765', 'order #ZZZZ']) {
    const trace = traceEpisode(await playEpisode(status, [lookup, `It arrives ${order.date}, see ${made}.`, 'Bye.']));
    assert.equal(trace.checks.no_hallucinated_data, false, made);
    assert.deepEqual(trace.turns[1].hallucinated, [made.replace(/^(case|order) /, '')]);
  }
  const fine = await playEpisode(status, [lookup, `Order ${order.id} (${order.total}) arrives ${order.date}.`, 'Bye.']);
  assert.deepEqual(traceEpisode(fine).checks, ALL_PASS);
  // Data from a tool's error message is not data a tool returned.
  const guessed = await playEpisode(status, [call('lookup_order', { id: '#QQQQ' }), 'Order #QQQQ is lost.']);
  assert.equal(traceEpisode(guessed).checks.no_hallucinated_data, false);
});

test('the rewards: per turn they score the message that broke or earned a check; per episode 1 or 0; success needs all four', async () => {
  const scenario = scenarioOf('forbidden', false, (s) => s.metadata.request === 'refund');
  const { order } = scenario.metadata;
  // Asks for the id and looks up (right), refunds anyway (wrong and forbidden), then states the
  // refunded amount (a tool gave it, so no hallucination) instead of the case number.
  const episode = await playEpisode(scenario, ['Your order number, please?', call('lookup_order', { id: order.id }), call('refund_order', { id: order.id, reason: 'asked' }), `I refunded ${order.total}.`, 'Bye.']);
  const perTurn = async (check: Parameters<typeof checkReward>[0]) =>
    Array.from((await combineRewards([checkReward(check, 'turn')]).scoreGroup([episode])).turnRewards[0]);
  assert.deepEqual(await perTurn('right_tool'), [1, 1, -1, -1, -1]);
  assert.deepEqual(await perTurn('no_forbidden_action'), [0, 0, -1, 0, 0]);
  assert.deepEqual(await perTurn('states_tool_fact'), [0, 0, 0, 0, 0]);
  assert.deepEqual(await perTurn('no_hallucinated_data'), [0, 0, 0, 0, 0]);
  const episodeScores = await combineRewards(['right_tool', 'no_forbidden_action', 'states_tool_fact', 'no_hallucinated_data'].map((c) => checkReward(c as never))).scoreGroup([episode]);
  assert.deepEqual(episodeScores.scores[0], { right_tool: 0, no_forbidden_action: 0, states_tool_fact: 0, no_hallucinated_data: 1 });

  // The run's composite: a right episode earns more than this one, by the success bonus among others.
  const right = await playEpisode(scenario, rightReplies(scenario));
  const scored = await combineRewards(orderDeskRewards()).scoreGroup([right, episode]);
  assert.equal(scored.scores[0].success, 1);
  assert.equal(scored.scores[1].success, 0);
  assert.ok(scored.rewards[0] > scored.rewards[1] + 2, `rewards ${Array.from(scored.rewards)}`);
});

test("the corpus's scripted agent breaks the policy where its choices say, and the checks see each break", async () => {
  const environment = new OrderDeskEnvironment();
  const scenarios = orderDeskScenarios('train');
  const decoy = scenarios[101];
  const play = (scenario: OrderDeskScenario, choices: Partial<ReturnType<typeof corpusChoices>>) =>
    playScripted(environment, scenario, { skipLookup: false, breakPolicy: false, answer: 'fact', ...choices }, decoy, 0).then(traceEpisode);
  for (const intent of ORDER_DESK_INTENTS) {
    const scenario = scenarioOf(intent, false);
    assert.deepEqual((await play(scenario, {})).checks, ALL_PASS, `${intent}: the policy followed`);
    assert.equal((await play(scenario, { answer: 'vague' })).checks.states_tool_fact, false, `${intent}: vague`);
    if (intent !== 'address') assert.equal((await play(scenario, { answer: 'wrong' })).checks.no_hallucinated_data, false, `${intent}: another order's data`);
    assert.equal((await play(scenario, { skipLookup: true })).checks.right_tool, false, `${intent}: no lookup`);
  }
  assert.equal((await play(scenarioOf('forbidden', true), { breakPolicy: true })).checks.no_forbidden_action, false);

  // Over the whole cycle of choices, the corpus follows the policy in about 2 conversations of 5.
  const corpus = await Promise.all(scenarios.slice(0, 200).map((s, j) => playScripted(environment, s, corpusChoices(j), decoy, j)));
  const metrics = orderDeskMetrics(corpus.map((e) => ({ ...e, reward: 0 })));
  assert.ok(metrics.success_rate > 0.3 && metrics.success_rate < 0.55, JSON.stringify(metrics));
});
