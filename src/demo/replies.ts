/**
 * The assistant replies of the SFT corpus, built from parts: an optional polite opener,
 * the answer to the customer's line (on topic, short), and an optional long explanation.
 * The politeness and length choices come first and last in the reply, so after SFT the
 * model makes each of them in a token or two -- exactly what the RL rewards then move.
 */
import type { DemoDetails, DemoTopic } from './scenarios.js';

export interface ReplyStyle {
  polite: boolean;
  long: boolean;
}

/** Openers with a phrase the politeness reward counts. */
const POLITE_OPENERS = ['Thank you for reaching out.', 'Sorry for the trouble.', 'I appreciate your patience.', 'Thanks for asking.'];
/** Openers without one (and answers and explanations never have one). */
const PLAIN_OPENERS = ['', 'OK.', 'Right.'];

/**
 * Answers per topic, at most 13 words: to the first customer line (any of them), and to
 * each follow-up line (in the order of the scenarios' follow-ups).
 */
const ANSWERS: Record<DemoTopic, [string[], string[]]> = {
  order_status: [
    ['Your {product} shipped on Monday and arrives in two days.', 'Order {order} is with the courier and arrives tomorrow.'],
    ['The tracking number is in your shipping email.', 'Yes, it will arrive before Saturday.'],
  ],
  refund: [
    ['You can return the {product} within thirty days for a full refund.', 'I have started a refund for order {order}.'],
    ['Refunds reach your card within five business days.', 'Return shipping is free for this order.'],
  ],
  billing: [
    ['I found the wrong charge on order {order} and reversed it.', 'The {product} charge is now cancelled.'],
    ['The money will be back on your card within five days.', 'A corrected invoice is on its way to your email.'],
  ],
  complaint: [
    ['I will send you a new {product} today at no cost.', 'I have reported the problem with order {order} to our team.'],
    ['You will get a full refund or a replacement, your choice.', 'A manager will call you back today.'],
  ],
  greeting: [
    ['Hello! I can help with the {product}.', 'Hi! Ask me anything about the {product}.'],
    ['Yes, the {product} is in stock and ships today.', 'Yes, it has a two-year warranty.'],
  ],
};

/** Long explanations (about 25 words, none polite), added after the answer. */
const EXPLANATIONS = [
  'Our system updates every few hours, so the details you see in your account may take some time to change after each step of the process.',
  'This follows the standard policy of the shop, which applies to every order placed on the website or in the mobile app during the current year.',
  'The team that handles these cases works from Monday to Friday, and most requests are closed within one or two working days after they arrive.',
];

/** Which template of each part a reply uses (modulo the number of templates; a follow-up's answer is fixed). */
export interface ReplyPick {
  opener: number;
  answer: number;
  explanation: number;
}

/** The reply to the customer's line number `turn` (0 or 1) in the given style. */
export function demoReply(details: DemoDetails, turn: number, style: ReplyStyle, pick: ReplyPick): string {
  const answers = ANSWERS[details.topic][Math.min(turn, 1)];
  const answer = (turn === 0 ? answers[pick.answer % answers.length] : answers[details.followUp]).replaceAll('{product}', details.product).replaceAll('{order}', details.orderNumber);
  const openers = style.polite ? POLITE_OPENERS : PLAIN_OPENERS;
  const parts = [openers[pick.opener % openers.length], answer, style.long ? EXPLANATIONS[pick.explanation % EXPLANATIONS.length] : ''];
  return parts.filter(Boolean).join(' ');
}
