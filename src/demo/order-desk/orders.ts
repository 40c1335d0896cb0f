/**
 * The order desk's backend: orders (id, item, total, status, carrier, date, refund
 * standing, address), the written policy the agent must follow, and the store the tools
 * act on. The store does what it is asked, like a real back office: following the policy
 * is the agent's job, and the checks (checks.ts) verify that it did.
 */
import { StatesetError } from '../../core/errors.js';

export type OrderStatus = 'processing' | 'shipped' | 'delivered';
/** What the policy says about refunding a delivered order. */
export type RefundStanding = 'refundable' | 'final sale' | 'past 30 days';

export interface Order {
  /** '#' and four letters, e.g. #QXKB. */
  id: string;
  item: string;
  /** "$34.50" */
  total: string;
  status: OrderStatus;
  carrier: string;
  /** "May 14": the day it ships (processing), arrives (shipped) or arrived (delivered). */
  date: string;
  /** Delivered orders only. */
  refund?: RefundStanding;
  address: string;
}

/** The written policy: the system prompt of every episode (the tools are described in it, compactly). */
export const ORDER_DESK_POLICY =
  'You are the order desk of a shop. Tools: lookup_order(id), refund_order(id, reason), change_address(id, address), escalate(reason). ' +
  'Policy: look up the order first; refund only orders marked refundable; change the address only while processing; ' +
  'escalate other refunds and address changes; tell the customer what the tool returned.';

/** An order id as written by anyone: the '#' is optional, letters are read as capitals. */
export function orderId(text: string): string {
  const id = text.trim().toUpperCase();
  return id.startsWith('#') ? id : `#${id}`;
}

/** Policy: a refund needs a delivered order marked refundable. */
export function refundAllowed(order: Order): boolean {
  return order.status === 'delivered' && order.refund === 'refundable';
}

/** Policy: the address may change only before the order ships. */
export function addressChangeAllowed(order: Order): boolean {
  return order.status === 'processing';
}

/** What lookup_order returns: every fact the agent may state about the order. */
export function describeOrder(order: Order): string {
  const head = `Order ${order.id}: ${order.item}, ${order.total}`;
  if (order.status === 'processing') return `${head}, processing, ships ${order.date}.`;
  if (order.status === 'shipped') return `${head}, shipped with ${order.carrier}, arrives ${order.date}.`;
  return `${head}, delivered ${order.date}, ${order.refund}.`;
}

/**
 * One episode's view of the orders: reads fall through to the shared book, changes stay
 * in the episode (so the G rollouts of a scenario, run at the same time, never see each
 * other's refunds).
 */
export class OrderStore {
  private readonly changed = new Map<string, Order>();
  private readonly refunded = new Set<string>();

  constructor(
    private readonly book: ReadonlyMap<string, Order>,
    /** The number escalate gives the case it opens. */
    private readonly caseNumber: string,
  ) {}

  lookup(id: string): Order {
    const order = this.changed.get(orderId(id)) ?? this.book.get(orderId(id));
    if (!order) throw new StatesetError('ERR_INVALID_ARGUMENT', `there is no order ${id}`);
    return order;
  }

  /** Refunds the order's total; returns what the tool says. */
  refund(id: string): string {
    const order = this.lookup(id);
    if (this.refunded.has(order.id)) throw new StatesetError('ERR_INVALID_ARGUMENT', `order ${order.id} was already refunded`);
    this.refunded.add(order.id);
    return `Refunded ${order.total} for order ${order.id}.`;
  }

  changeAddress(id: string, address: string): string {
    const order = this.lookup(id);
    this.changed.set(order.id, { ...order, address });
    return `Order ${order.id} will ship to ${address}.`;
  }

  escalate(): string {
    return `Escalated as case ${this.caseNumber}.`;
  }
}
