// Order-desk episodes played by hand: the assistant's messages are given, the real
// environment (scripted customer, tools, per-episode store) answers them.
import type { Episode, Turn } from '../../src/index.js';
import { OrderDeskEnvironment, orderDeskScenarios, type OrderDeskIntent, type OrderDeskScenario } from '../../src/index.js';

export async function playEpisode(scenario: OrderDeskScenario, replies: string[], environment = new OrderDeskEnvironment()): Promise<Episode<OrderDeskScenario>> {
  const start = await environment.reset(scenario);
  let state = start.state;
  let messages = [...start.messages];
  const turns: Turn[] = [];
  let doneReason = 'unfinished';
  for (const [index, content] of replies.entries()) {
    const step = await environment.step(state, { role: 'assistant', content });
    messages = [...messages, step.assistant, ...step.messages];
    turns.push({ index, assistant: step.assistant, replies: step.messages, toolCalls: step.toolCalls, finishReason: 'stop', start: 0, end: 0 });
    state = step.state;
    if (step.done) {
      doneReason = step.doneReason ?? 'done';
      if (index !== replies.length - 1) throw new Error(`the episode ended (${doneReason}) after ${index + 1} of ${replies.length} replies`);
    }
  }
  return { scenario, messages, turns, doneReason };
}

/** A Hermes tool call as the model writes it. */
export const call = (name: string, args: Record<string, string>): string => `<tool_call>${JSON.stringify({ name, arguments: args })}</tool_call>`;

/** The first training scenario of an intent, with the order id in the first message or not. */
export function scenarioOf(intent: OrderDeskIntent, idFirst: boolean, where: (s: OrderDeskScenario) => boolean = () => true): OrderDeskScenario {
  const found = orderDeskScenarios('train').find((s) => s.metadata.intent === intent && s.metadata.idFirst === idFirst && where(s));
  if (!found) throw new Error(`no ${intent} scenario with idFirst=${idFirst}`);
  return found;
}

/** The assistant messages of a right episode: ask for the id if needed, the required calls, the answer, the reply to the follow-up. */
export function rightReplies(scenario: OrderDeskScenario): string[] {
  const { order, expected, fact, idFirst } = scenario.metadata;
  const calls = expected.map((want) =>
    call(want.name, want.name === 'lookup_order' ? { id: order.id } : want.name === 'escalate' ? { reason: 'not allowed' } : { id: order.id, ...(want.arguments.address ? { address: want.arguments.address } : { reason: 'customer asked' }) }),
  );
  return [...(idFirst ? [] : ['What is your order number?']), ...calls, `Thank you for waiting: ${fact}.`, 'You are welcome.'];
}
