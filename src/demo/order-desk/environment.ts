/**
 * The order desk's environment: the scripted customer of each scenario and the four zod
 * tools, acting on a store of the episode's own (a fresh OrderStore per reset), inside the
 * project's ConversationEnvironment (Hermes <tool_call> parsing, tool errors as messages).
 *
 * The tools are described in the system prompt (ORDER_DESK_POLICY) by their signatures
 * rather than as JSON schemas: the schemas would take most of a small model's context.
 */
import { z } from 'zod';
import { ConversationEnvironment, type ConversationState } from '../../env/conversation.js';
import type { Environment, EnvironmentStart, EnvironmentStep } from '../../env/environment.js';
import { tool, type Tool } from '../../env/tools.js';
import type { Message } from '../../core/messages.js';
import { describeOrder, ORDER_DESK_POLICY, OrderStore, type Order } from './orders.js';
import { orderDesk, type OrderDeskScenario } from './scenarios.js';

/** Replies to the customer per episode: the answer, the reply to the id (when asked for it) and to the follow-up. */
export const ORDER_DESK_MAX_TURNS = 3;
/**
 * Assistant messages per episode, tool calls included: the longest right episode takes 5
 * (ask for the id, look up, act, answer, reply to the follow-up). The cap keeps every
 * episode well inside the model's context.
 */
export const ORDER_DESK_MAX_STEPS = 6;

/** The four tools, acting on `store`. */
export function orderDeskTools(store: OrderStore): Tool[] {
  const id = z.string().min(1).describe('the order number');
  return [
    tool({
      name: 'lookup_order',
      description: 'The order: item, total, status, carrier, date and refund standing.',
      parameters: z.object({ id }),
      execute: (args) => describeOrder(store.lookup(args.id)),
    }),
    tool({
      name: 'refund_order',
      description: "Refunds the order's total.",
      parameters: z.object({ id, reason: z.string().min(1) }),
      execute: (args) => store.refund(args.id),
    }),
    tool({
      name: 'change_address',
      description: 'Changes the delivery address of the order.',
      parameters: z.object({ id, address: z.string().min(1) }),
      execute: (args) => store.changeAddress(args.id, args.address),
    }),
    tool({
      name: 'escalate',
      description: 'Opens a case for a specialist.',
      parameters: z.object({ reason: z.string().min(1) }),
      execute: () => store.escalate(),
    }),
  ];
}

export interface OrderDeskState {
  conversation: ConversationEnvironment;
  inner: ConversationState;
  store: OrderStore;
}

export class OrderDeskEnvironment implements Environment<OrderDeskScenario, OrderDeskState> {
  /** `book`: the orders the tools can see (default: every order of the shipped scenarios). */
  constructor(private readonly book: ReadonlyMap<string, Order> = orderDesk().book) {}

  async reset(scenario: OrderDeskScenario): Promise<EnvironmentStart<OrderDeskState>> {
    const store = new OrderStore(this.book, scenario.metadata.caseNumber);
    const conversation = new ConversationEnvironment({
      systemPrompt: ORDER_DESK_POLICY,
      maxTurns: ORDER_DESK_MAX_TURNS,
      tools: orderDeskTools(store),
      maxToolCallsPerTurn: 3,
    });
    const start = await conversation.reset(scenario);
    // No `tools`: the policy in the system prompt describes them (see the file comment).
    return { state: { conversation, inner: start.state, store }, messages: start.messages };
  }

  async step(state: OrderDeskState, reply: Message): Promise<EnvironmentStep<OrderDeskState>> {
    const step = await state.conversation.step(state.inner, reply);
    const next = { ...state, inner: step.state };
    if (!step.done && step.state.steps >= ORDER_DESK_MAX_STEPS) return { ...step, state: next, done: true, doneReason: 'max_steps' };
    return { ...step, state: next };
  }
}

export function orderDeskEnvironment(): OrderDeskEnvironment {
  return new OrderDeskEnvironment();
}
