/**
 * The order desk's scenarios: a customer with one order and one request. Four intents:
 * where is my order (status), a refund the policy allows, an address change it allows,
 * and a refund or address change it forbids (forbidden). The customer gives the order id
 * in the first message, or in the second when asked, and then follows up once.
 *
 * Everything comes from one seed, enumerated in a fixed order. The held-out split uses
 * order ids, items, streets and customer wordings that training (and the SFT corpus made
 * from it) never shows.
 */
import type { ConversationScenario } from '../../env/scenario.js';
import { random } from '../../train/seeds.js';
import type { Order, OrderStatus, RefundStanding } from './orders.js';

export const ORDER_DESK_INTENTS = ['status', 'refund', 'address', 'forbidden'] as const;
export type OrderDeskIntent = (typeof ORDER_DESK_INTENTS)[number];
/** What the customer asks for (a forbidden request reads like an allowed one). */
export type OrderRequest = 'status' | 'refund' | 'address';
export type OrderDeskSplit = 'train' | 'heldout';

/** A tool call the policy requires; `reason` arguments are free text, so only their presence is checked. */
export interface ExpectedCall {
  name: 'lookup_order' | 'refund_order' | 'change_address' | 'escalate';
  arguments: { id?: string; address?: string };
}

export interface OrderDeskDetails {
  intent: OrderDeskIntent;
  request: OrderRequest;
  order: Order;
  /** The address the customer asks for (address requests). */
  newAddress?: string;
  /** Whether the first message carries the order id (else the second does). */
  idFirst: boolean;
  /** The number escalate gives this episode's case. */
  caseNumber: string;
  /** The calls the policy requires, in order. */
  expected: ExpectedCall[];
  /** What the last required tool returns that the answer must state: a date, an amount, an address, a case number. */
  fact: string;
}

export interface OrderDeskScenario extends ConversationScenario {
  id: string;
  userTurns: string[];
  metadata: OrderDeskDetails & Record<string, unknown>;
}

/** Scenarios per intent in each split. */
export const SCENARIOS_PER_INTENT: Record<OrderDeskSplit, number> = { train: 250, heldout: 10 };

interface SplitWords {
  items: string[];
  streets: string[];
  /** Per request: openers with the order id ({id}), then without it. {item}, {address} are filled in. */
  openers: Record<OrderRequest, [string[], string[]]>;
  /** The second message when the first had no id. */
  idLines: string[];
  followUps: string[];
}

const WORDS: Record<OrderDeskSplit, SplitWords> = {
  train: {
    items: [
      'jacket', 'backpack', 'lamp', 'blender', 'keyboard', 'sofa', 'kettle', 'camera', 'tent', 'toaster',
      'monitor', 'helmet', 'guitar', 'blanket', 'mirror', 'heater', 'speaker', 'watch', 'wallet', 'drill',
      'vacuum', 'chair', 'desk', 'scarf', 'pillow', 'router', 'umbrella', 'stroller', 'suitcase', 'microwave',
      'headphones', 'rug', 'candle', 'clock', 'fan', 'kayak', 'laptop', 'oven', 'shelf', 'skates',
    ],
    streets: ['Oak Street', 'Mill Road', 'Park Lane', 'High Street', 'Church Road', 'Elm Avenue', 'River Way', 'King Street', 'Hill Road', 'Bridge Street', 'Station Road', 'Green Lane'],
    openers: {
      status: [
        ['Where is my order {id}?', 'Hi, order {id} has not arrived yet. Where is it?', 'Can you check on my order {id}, please?', 'When will order {id} get here?'],
        ['Where is my {item}? It has not arrived.', 'Hi, my package is late. Can you check it?', 'When will my {item} get here?'],
      ],
      refund: [
        ['I want a refund for order {id}.', 'The {item} from order {id} is broken. I want my money back.', 'Please refund order {id}.', 'Can I return order {id} for a refund?'],
        ['I want to return my {item} for a refund.', 'My {item} arrived broken. Can I get my money back?', 'I would like a refund, please.'],
      ],
      address: [
        ['Please send order {id} to {address} instead.', 'I moved. Can you change the address of order {id} to {address}?', 'Can order {id} go to {address}?'],
        ['Can you send my {item} to {address} instead?', 'I moved to {address}. Please update my order.', 'Please change my delivery address to {address}.'],
      ],
    },
    idLines: ['It is {id}.', 'The order number is {id}.', 'Sure, order {id}.'],
    followUps: ['Thanks. Is that all?', 'OK, thank you.', 'Great, thanks for your help.', 'Thank you. Anything else I need to do?'],
  },
  heldout: {
    items: ['bicycle', 'printer', 'mattress', 'violin', 'projector', 'treadmill', 'aquarium', 'telescope'],
    streets: ['Cedar Close', 'Maple Drive', 'Harbour View', 'Orchard Row'],
    openers: {
      status: [['Any news on order {id}? It is late.', 'Has order {id} shipped yet?'], ['My {item} still has not come. Where is it?']],
      refund: [['Order {id} is not what I wanted. Can I have a refund?', 'Please give me my money back for order {id}.'], ['I would like my money back for my {item}.']],
      address: [['Could order {id} be delivered to {address} please?'], ['Please ship my {item} to {address}, I have moved.']],
    },
    idLines: ['Order {id}.', 'My order number is {id}.'],
    followUps: ['Alright, thanks.', 'Thank you, that helps.'],
  },
};

const CARRIERS = ['UPS', 'DHL', 'FedEx'];
/**
 * Order ids are '#' and four different letters of these, which no other word of the
 * scenarios starts with or holds as a bare capital (UPS, DHL, Order, My, ...): a small
 * model copies such an id token by token without mistaking a letter for one elsewhere.
 */
export const ID_LETTERS = 'BJKNQVXZ';
export const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** The seed of the shipped scenarios. */
export const ORDER_DESK_SEED = 0;

export interface OrderDesk {
  train: OrderDeskScenario[];
  heldout: OrderDeskScenario[];
  /** Every order of both splits, by id: the back office the tools read. */
  book: ReadonlyMap<string, Order>;
}

const made = new Map<number, OrderDesk>();

/** The scenarios and order book of a seed (made once per process). */
export function orderDesk(seed = ORDER_DESK_SEED): OrderDesk {
  let desk = made.get(seed);
  if (!desk) {
    desk = makeOrderDesk(seed);
    made.set(seed, desk);
  }
  return desk;
}

/** Every scenario of a split, intents interleaved. */
export function orderDeskScenarios(split: OrderDeskSplit, seed = ORDER_DESK_SEED): OrderDeskScenario[] {
  return orderDesk(seed)[split];
}

function makeOrderDesk(seed: number): OrderDesk {
  const next = random(seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)];
  const used = new Set<string>();
  // Order ids, case numbers and totals never repeat a symbol (see ID_LETTERS), and ids and
  // case numbers never repeat across splits: held-out ids are unseen in training.
  const distinct = (alphabet: string, length: number) => drawDistinct(alphabet, length, next);
  const digits = (length: number): string => {
    const first = distinct('123456789', 1);
    return first + distinct('0123456789'.replace(first, ''), length - 1);
  };
  const fresh = (make: () => string): string => {
    for (;;) {
      const value = make();
      if (!used.has(value)) {
        used.add(value);
        return value;
      }
    }
  };
  const book = new Map<string, Order>();
  const split = (name: OrderDeskSplit): OrderDeskScenario[] => {
    const words = WORDS[name];
    const scenarios: OrderDeskScenario[] = [];
    for (let i = 0; i < SCENARIOS_PER_INTENT[name]; i++) {
      for (const intent of ORDER_DESK_INTENTS) {
        const request: OrderRequest = intent === 'forbidden' ? (i % 3 === 2 ? 'address' : 'refund') : intent;
        const status: OrderStatus = request === 'status' ? (i % 2 ? 'shipped' : 'processing') : request === 'address' ? (intent === 'forbidden' ? 'shipped' : 'processing') : 'delivered';
        const standing: RefundStanding | undefined = status !== 'delivered' ? undefined : intent === 'forbidden' ? (i % 3 === 0 ? 'final sale' : 'past 30 days') : 'refundable';
        const order: Order = {
          id: fresh(() => `#${distinct(ID_LETTERS, 4)}`),
          item: pick(words.items),
          total: ((d) => `$${d.slice(0, 2)}.${d.slice(2)}`)(digits(4)),
          status,
          carrier: pick(CARRIERS),
          date: `${pick(MONTHS)} ${1 + Math.floor(next() * 28)}`,
          ...(standing ? { refund: standing } : {}),
          address: `${1 + Math.floor(next() * 98)} ${pick(words.streets)}`,
        };
        book.set(order.id, order);
        const newAddress = request === 'address' ? `${1 + Math.floor(next() * 98)} ${pick(words.streets)}` : undefined;
        const caseNumber = fresh(() => digits(4));
        const idFirst = (i + ORDER_DESK_INTENTS.indexOf(intent)) % 2 === 0;
        const [withId, withoutId] = words.openers[request];
        const fill = (line: string) => line.replaceAll('{id}', order.id).replaceAll('{item}', order.item).replaceAll('{address}', newAddress ?? '');
        const opener = idFirst ? withId[i % withId.length] : withoutId[i % withoutId.length];
        const followUp = words.followUps[(i + intent.length) % words.followUps.length];
        const userTurns = idFirst ? [opener, followUp] : [opener, words.idLines[i % words.idLines.length], followUp];
        const expected = expectedCalls(intent, request, order.id, newAddress);
        scenarios.push({
          id: `${name}-${intent}-${i}`,
          userTurns: userTurns.map(fill),
          metadata: { intent, request, order, ...(newAddress ? { newAddress } : {}), idFirst, caseNumber, expected, fact: factOf(intent, request, order, newAddress, caseNumber) },
        });
      }
    }
    return scenarios;
  };
  const train = split('train');
  const heldout = split('heldout');
  return { train, heldout, book };
}

/** `length` different symbols of `alphabet`, drawn with `next` (uniform in [0, 1)). */
export function drawDistinct(alphabet: string, length: number, next: () => number): string {
  const left = [...alphabet];
  return Array.from({ length }, () => left.splice(Math.floor(next() * left.length), 1)[0]).join('');
}

/** Look up first; then the action the policy allows, or escalate when it forbids the request. */
function expectedCalls(intent: OrderDeskIntent, request: OrderRequest, id: string, newAddress: string | undefined): ExpectedCall[] {
  const lookup: ExpectedCall = { name: 'lookup_order', arguments: { id } };
  if (intent === 'forbidden') return [lookup, { name: 'escalate', arguments: {} }];
  if (request === 'refund') return [lookup, { name: 'refund_order', arguments: { id } }];
  if (request === 'address') return [lookup, { name: 'change_address', arguments: { id, address: newAddress } }];
  return [lookup];
}

function factOf(intent: OrderDeskIntent, request: OrderRequest, order: Order, newAddress: string | undefined, caseNumber: string): string {
  if (intent === 'forbidden') return caseNumber;
  if (request === 'refund') return order.total;
  if (request === 'address') return newAddress!;
  return order.date;
}
