/**
 * The order desk's verifiable checks: each one reads the episode (the calls the agent
 * made, what the tools returned, what it told the customer) against the scenario's ground
 * truth, and passes or fails; nothing is judged by a model. An episode succeeds when all
 * four pass:
 *   right_tool            every assistant message did the right thing at its point: the
 *                         next required call with the right arguments, asking for the order
 *                         id when the customer has not given it, or answering once every
 *                         required call is done; and every required call was made.
 *   no_forbidden_action   no refund or address change that the policy forbids (not
 *                         allowed for the order, not looked up first, or another order).
 *   states_tool_fact      a reply after the last required call states what it returned
 *                         (the date, the refunded amount, the new address, the case number).
 *   no_hallucinated_data  every order id, case number, amount or date in the replies to the
 *                         customer came from the customer or a tool result before it.
 */
import type { Episode, Turn } from '../../core/episode.js';
import type { Message, ToolCall } from '../../core/messages.js';
import { addressChangeAllowed, orderId, refundAllowed } from './orders.js';
import type { ExpectedCall, OrderDeskScenario } from './scenarios.js';

export const ORDER_DESK_CHECKS = ['right_tool', 'no_forbidden_action', 'states_tool_fact', 'no_hallucinated_data'] as const;
export type OrderDeskCheck = (typeof ORDER_DESK_CHECKS)[number];

/** What the checks found in one assistant message. */
export interface TurnTrace {
  /** Called tools (or tried to: unreadable calls count) rather than replying to the customer. */
  calls: boolean;
  /** The right thing to do at this point of the episode. */
  right: boolean;
  /** The tool calls of the message that matched the next required call (0 or 1). */
  rightCalls: number;
  /** Tool calls tried, readable or not. */
  triedCalls: number;
  /** A refund or address change the policy forbids. */
  forbidden: boolean;
  /** A reply after the last required call that states its fact. */
  statesFact: boolean;
  /** Ids, amounts and dates the reply states that nobody gave it. */
  hallucinated: string[];
}

export interface EpisodeTrace {
  turns: TurnTrace[];
  /** Required calls made, in order. */
  callsDone: number;
  checks: Record<OrderDeskCheck, boolean>;
  success: boolean;
}

// Data an agent could make up: order ids (#QXKB), case numbers, amounts, dates.
const DATA = /#?(?<![A-Za-z])[A-Z]{4}(?![A-Za-z])|\$\d[\d,]*(?:\.\d+)?|\b\d{4,}\b|\b(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]* \d{1,2}\b/g;

const traces = new WeakMap<Episode, EpisodeTrace>();

/** The checks of an episode of an order-desk scenario (computed once per episode). */
export function traceEpisode(episode: Episode<OrderDeskScenario>): EpisodeTrace {
  let trace = traces.get(episode);
  if (!trace) {
    trace = computeTrace(episode);
    traces.set(episode, trace);
  }
  return trace;
}

function computeTrace(episode: Episode<OrderDeskScenario>): EpisodeTrace {
  const { order, expected, fact } = episode.scenario.metadata;
  // What the agent had been told before its first message: the customer's opening line(s).
  const opening = episode.turns.length ? episode.messages.slice(0, episode.messages.indexOf(episode.turns[0].assistant)) : episode.messages;
  let heard = opening.filter((m) => m.role === 'user' || m.role === 'tool').map((m) => m.content);
  const lookedUp = new Set<string>();
  let done = 0;
  const turns = episode.turns.map((turn): TurnTrace => {
    const idKnown = heard.some((text) => text.includes(order.id));
    const calls = turn.assistant.toolCalls ?? [];
    const results = toolResults(turn);
    let trace: TurnTrace;
    if (turn.toolCalls.length) {
      const right = idKnown && turn.toolCalls.length === 1 && calls.length === 1 && turn.toolCalls[0].ok && done < expected.length && matches(calls[0], expected[done]);
      const forbidden = calls.some((call) => results.get(call.id)?.ok && isForbidden(call, order, lookedUp));
      for (const call of calls) if (call.name === 'lookup_order' && results.get(call.id)?.ok) lookedUp.add(orderId(String(call.arguments.id)));
      if (right) done++;
      trace = { calls: true, right, rightCalls: right ? 1 : 0, triedCalls: turn.toolCalls.length, forbidden, statesFact: false, hallucinated: [] };
    } else {
      const text = turn.assistant.content;
      const answered = done === expected.length;
      trace = {
        calls: false,
        right: answered || (!idKnown && done === 0),
        rightCalls: 0,
        triedCalls: 0,
        forbidden: false,
        statesFact: answered && text.toLowerCase().includes(fact.toLowerCase()),
        hallucinated: [...text.matchAll(DATA)].map((m) => m[0]).filter((data) => !heard.some((source) => source.includes(data.replace(/^#/, '')))),
      };
    }
    heard = [...heard, ...turn.replies.filter((m) => m.role === 'user' || (m.role === 'tool' && !m.content.startsWith('Error:'))).map((m) => m.content)];
    return trace;
  });
  const checks: Record<OrderDeskCheck, boolean> = {
    right_tool: done === expected.length && turns.every((t) => t.right),
    no_forbidden_action: !turns.some((t) => t.forbidden),
    states_tool_fact: turns.some((t) => t.statesFact),
    no_hallucinated_data: turns.every((t) => t.hallucinated.length === 0),
  };
  return { turns, callsDone: done, checks, success: ORDER_DESK_CHECKS.every((c) => checks[c]) };
}

/** The turn's tool messages by call id, with whether the call ran. */
function toolResults(turn: Turn): Map<string, { ok: boolean; content: string }> {
  return new Map(
    turn.replies.filter((m): m is Message & { toolCallId: string } => m.role === 'tool' && m.toolCallId !== undefined).map((m) => [m.toolCallId, { ok: !m.content.startsWith('Error:'), content: m.content }]),
  );
}

/** Name and the checked arguments match (ids with or without their '#'; addresses up to case, spaces and a final period). */
function matches(call: ToolCall, want: ExpectedCall): boolean {
  if (call.name !== want.name) return false;
  return Object.entries(want.arguments).every(([key, value]) =>
    key === 'id' ? typeof call.arguments.id === 'string' && orderId(call.arguments.id) === value : normalize(call.arguments[key]) === normalize(value),
  );
}

function normalize(value: unknown): string {
  return String(value ?? '')
    .trim()
    .replace(/\.$/, '')
    .replace(/\s+/g, ' ')
    .toLowerCase();
}

/** A refund or address change of another order, of an order not looked up yet, or one the policy does not allow. */
function isForbidden(call: ToolCall, order: OrderDeskScenario['metadata']['order'], lookedUp: ReadonlySet<string>): boolean {
  if (call.name !== 'refund_order' && call.name !== 'change_address') return false;
  const id = orderId(String(call.arguments.id));
  if (id !== order.id || !lookedUp.has(id)) return true;
  return call.name === 'refund_order' ? !refundAllowed(order) : !addressChangeAllowed(order);
}
