/**
 * The customer-service scenarios of the demo: five topics, each a two-turn conversation
 * with a scripted customer. Scenarios are enumerated, not sampled, so the same list comes
 * out on every machine; the held-out split uses products and order numbers that the
 * training split (and the SFT corpus built from it) never shows.
 */
import { ConversationEnvironment } from '../env/conversation.js';
import type { ConversationScenario } from '../env/scenario.js';

export const DEMO_TOPICS = ['order_status', 'refund', 'billing', 'complaint', 'greeting'] as const;
export type DemoTopic = (typeof DEMO_TOPICS)[number];

export type DemoSplit = 'train' | 'heldout';

/** What a demo scenario's metadata holds: the reply templates need the topic and the product. */
export interface DemoDetails {
  topic: DemoTopic;
  product: string;
  orderNumber: string;
  /** Which of the topic's follow-up lines the customer says second. */
  followUp: number;
}

export interface DemoScenario extends ConversationScenario {
  id: string;
  userTurns: string[];
  metadata: DemoDetails & Record<string, unknown>;
}

export const DEMO_SYSTEM_PROMPT = 'You are a customer-service assistant for an online shop.';

// Many products, so that the SFT model learns to repeat the customer's product, not to pick one it knows.
const TRAIN_PRODUCTS = [
  'jacket', 'backpack', 'lamp', 'blender', 'keyboard', 'sofa', 'kettle', 'camera', 'tent', 'toaster',
  'monitor', 'helmet', 'guitar', 'blanket', 'mirror', 'heater', 'speaker', 'watch', 'wallet', 'drill',
  'vacuum', 'chair', 'desk', 'scarf', 'pillow', 'router', 'umbrella', 'stroller', 'suitcase', 'microwave',
];
const HELDOUT_PRODUCTS = ['bicycle', 'printer', 'mattress'];

/** The customer's opening lines per topic ({product}, {order} are filled in). */
const OPENERS: Record<DemoTopic, string[]> = {
  order_status: [
    'Where is my order {order}? It was a {product}.',
    'Hi, my {product} has not arrived yet. Order {order}.',
    'Can you check the status of order {order}, the {product}?',
  ],
  refund: [
    'I want to return my {product} and get a refund. Order {order}.',
    'The {product} from order {order} is broken. Can I get my money back?',
    'How do I get a refund for the {product} I bought? Order {order}.',
  ],
  billing: [
    'I was charged twice for my {product}, order {order}.',
    'My card was billed for order {order} but I cancelled the {product}.',
    'Why is there an extra fee on my bill for the {product}? Order {order}.',
  ],
  complaint: [
    'Your delivery driver left my {product} in the rain. Order {order}.',
    'This is the third time my {product} order {order} is late. I am very upset.',
    'The {product} I received is the wrong color. Order {order}.',
  ],
  greeting: [
    'Hello! I have a question about a {product}.',
    'Hi there, is anyone available to talk about a {product}?',
    'Good morning. I am thinking about buying a {product}.',
  ],
};

/** The customer's second line per topic. */
const FOLLOW_UPS: Record<DemoTopic, string[]> = {
  order_status: ['Can you send me the tracking number?', 'Will it arrive before the weekend?'],
  refund: ['How long will the refund take?', 'Do I have to pay for the return shipping?'],
  billing: ['When will I see the money back on my card?', 'Can you send me a corrected invoice?'],
  complaint: ['What are you going to do about it?', 'I want to speak to a manager.'],
  greeting: ['Is it in stock right now?', 'Does it come with a warranty?'],
};

/** Every scenario of a split, in a fixed order (topics interleaved). */
export function demoScenarios(split: DemoSplit): DemoScenario[] {
  const products = split === 'train' ? TRAIN_PRODUCTS : HELDOUT_PRODUCTS;
  const scenarios: DemoScenario[] = [];
  products.forEach((product, p) => {
    for (const topic of DEMO_TOPICS) {
      OPENERS[topic].forEach((opener, o) => {
        const followUp = (p + o) % FOLLOW_UPS[topic].length;
        // Held-out order numbers start at 9000, training ones below it.
        const orderNumber = String((split === 'train' ? 1000 : 9000) + p * 97 + o * 31 + DEMO_TOPICS.indexOf(topic) * 7);
        const fill = (line: string) => line.replaceAll('{product}', product).replaceAll('{order}', orderNumber);
        scenarios.push({
          id: `${split}-${topic}-${product}-${o}`,
          userTurns: [fill(opener), fill(FOLLOW_UPS[topic][followUp])],
          metadata: { topic, product, orderNumber, followUp },
        });
      });
    }
  });
  return scenarios;
}

/** The demo's environment: the shop's system prompt and the scripted customer, two replies per episode. */
export function demoEnvironment(): ConversationEnvironment {
  return new ConversationEnvironment({ systemPrompt: DEMO_SYSTEM_PROMPT, maxTurns: 2 });
}
