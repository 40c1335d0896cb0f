/**
 * The synthetic SFT corpus of the order-desk model: every training scenario played out
 * by a scripted agent against the real environment (so the tool calls, tool results and
 * customer lines are exactly what rollouts see), following the policy only part of the
 * time. A fixed cycle decides three things per conversation, independently:
 *   skip the lookup and act at once (1 in 5)         - forbidden: look up first
 *   do a forbidden refund or address change instead of escalating (1 in 2, forbidden intent only)
 *   the answer: states the tool's fact (3 in 5), is vague (1 in 5), or states another order's data (1 in 5)
 * so after SFT the model can do the job but often does not: what RL then improves.
 */
import type { Episode, Turn } from '../../core/episode.js';
import type { Message } from '../../core/messages.js';
import { OrderDeskEnvironment } from './environment.js';
import type { OrderDeskScenario } from './scenarios.js';
import { formatToolCall } from './tool-call-tokens.js';

export type AnswerStyle = 'fact' | 'vague' | 'wrong';

export interface CorpusChoices {
  skipLookup: boolean;
  /** Refund or change the address although the policy forbids it (forbidden intent). */
  breakPolicy: boolean;
  answer: AnswerStyle;
}

/** The choices of conversation number `j` of the corpus. */
export function corpusChoices(j: number): CorpusChoices {
  const answers: AnswerStyle[] = ['fact', 'fact', 'fact', 'vague', 'wrong'];
  return { skipLookup: j % 5 === 4, breakPolicy: Math.floor(j / 5) % 2 === 1, answer: answers[Math.floor(j / 10) % 5] };
}

export interface OrderDeskCorpusOptions {
  /** Conversations per scenario, each with other choices and wordings. Default 1. */
  copies?: number;
}

/** Whole conversations (policy, customer, tool calls and results, replies) for SFT. */
export async function orderDeskCorpus(scenarios: OrderDeskScenario[], options: OrderDeskCorpusOptions = {}): Promise<Message[][]> {
  const environment = new OrderDeskEnvironment();
  const conversations: Message[][] = [];
  let j = 0;
  for (let copy = 0; copy < (options.copies ?? 1); copy++) {
    for (const [i, scenario] of scenarios.entries()) {
      const decoy = scenarios[(i + 1 + copy) % scenarios.length];
      conversations.push((await playScripted(environment, scenario, corpusChoices(j), decoy, j)).messages);
      j++;
    }
  }
  return conversations;
}

/** One episode of the scripted agent; `decoy` is the scenario whose data a 'wrong' answer states. */
export async function playScripted(environment: OrderDeskEnvironment, scenario: OrderDeskScenario, choices: CorpusChoices, decoy: OrderDeskScenario, variant: number): Promise<Episode<OrderDeskScenario>> {
  const { order, request, intent, newAddress } = scenario.metadata;
  const start = await environment.reset(scenario);
  let state = start.state;
  const messages: Message[] = [...start.messages];
  const turns: Turn[] = [];
  const pickOf = (list: string[]) => list[variant % list.length];
  let lookedUp = false;
  let acted: 'refund_order' | 'change_address' | 'escalate' | undefined;
  let answered = false;

  const action = (allowed: boolean): string => {
    if (request === 'refund' && allowed) return formatToolCall((acted = 'refund_order'), { id: order.id, reason: 'customer request' });
    if (request === 'address' && allowed) return formatToolCall((acted = 'change_address'), { id: order.id, address: newAddress! });
    return formatToolCall((acted = 'escalate'), { reason: request === 'refund' ? 'refund not allowed' : 'address change not allowed' });
  };
  const next = (): string => {
    if (!messages.some((m) => m.role === 'user' && m.content.includes(order.id))) return pickOf(ASK_FOR_ID);
    if (!lookedUp && !acted && !answered) {
      if (!choices.skipLookup) {
        lookedUp = true;
        return formatToolCall('lookup_order', { id: order.id });
      }
      if (request === 'status') {
        answered = true;
        return VAGUE.status;
      }
      return action(true);
    }
    if (!acted && request !== 'status') return action(intent !== 'forbidden' || choices.breakPolicy);
    if (!answered) {
      answered = true;
      return answer(scenario, acted, choices.answer, decoy, pickOf);
    }
    return pickOf(FOLLOW_UP_REPLIES);
  };

  for (;;) {
    const step = await environment.step(state, { role: 'assistant', content: next() });
    messages.push(step.assistant, ...step.messages);
    turns.push({ index: turns.length, assistant: step.assistant, replies: step.messages, toolCalls: step.toolCalls, finishReason: 'stop', start: 0, end: 0 });
    state = step.state;
    if (step.done) return { scenario, messages, turns, doneReason: step.doneReason ?? 'done' };
  }
}

const ASK_FOR_ID = ['Please tell me your order number.', 'Sure, what is your order number?', 'Could you give me your order number, please?'];
const FOLLOW_UP_REPLIES = ['You are welcome.', 'Happy to help. Have a nice day.', 'Yes, that is all. Thank you for your patience.'];
const VAGUE = {
  status: 'Your order is on its way.',
  refund_order: 'Your refund is being processed.',
  change_address: 'Your new address is saved.',
  escalate: 'I have passed this on to our team.',
};

/** The reply after the last tool call: its fact, nothing, or the decoy scenario's data in its place. */
function answer(scenario: OrderDeskScenario, acted: keyof typeof VAGUE | undefined, style: AnswerStyle, decoy: OrderDeskScenario, pickOf: (list: string[]) => string): string {
  const { order, newAddress, caseNumber } = scenario.metadata;
  const kind = acted ?? 'status';
  if (style === 'vague' || (style === 'wrong' && kind === 'change_address')) return VAGUE[kind];
  const data = style === 'fact' ? { date: order.date, total: order.total, caseNumber } : { date: decoy.metadata.order.date, total: decoy.metadata.order.total, caseNumber: decoy.metadata.caseNumber };
  const fill = (line: string) =>
    line
      .replaceAll('{id}', order.id)
      .replaceAll('{item}', order.item)
      .replaceAll('{carrier}', order.carrier)
      .replaceAll('{date}', data.date)
      .replaceAll('{total}', data.total)
      .replaceAll('{address}', newAddress ?? '')
      .replaceAll('{case}', data.caseNumber)
      .replaceAll('{standing}', order.refund ?? '');
  if (kind === 'status') return fill(pickOf(order.status === 'processing' ? ['Your {item} is being packed and ships {date}.', 'Order {id} ships {date}.'] : ['Your {item} is with {carrier} and arrives {date}.', 'Order {id} arrives {date} with {carrier}.']));
  if (kind === 'refund_order') return fill(pickOf(['I have refunded {total} for your {item}.', 'Done, {total} is on its way back to you.']));
  if (kind === 'change_address') return fill(pickOf(['Done, your {item} will ship to {address}.', 'Order {id} will now go to {address}.']));
  return fill(
    scenario.metadata.request === 'refund'
      ? 'Sorry, order {id} is {standing}, so I cannot refund it. I opened case {case} for you.'
      : 'Sorry, order {id} has already shipped, so I cannot change the address. I opened case {case} for you.',
  );
}
