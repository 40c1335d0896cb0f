/**
 * The synthetic SFT corpus of the demo model: every training scenario played out several
 * times with replies of mixed styles. A fixed cycle decides the styles, so about a third
 * of the replies are polite and two thirds are long, the two choices independent of each
 * other and of the topic: after SFT the model answers on topic but is only sometimes
 * polite and often long, which leaves RL something clear to improve.
 */
import type { Message } from '../core/messages.js';
import { demoReply, type ReplyStyle } from './replies.js';
import { DEMO_SYSTEM_PROMPT, type DemoScenario } from './scenarios.js';

export interface DemoCorpusOptions {
  /** Conversations per scenario (each with other styles and templates). Default 4. */
  copies?: number;
}

/** Style of reply number `j` of the corpus: polite when j % 3 == 0, long unless floor(j / 3) % 3 == 0. */
export function corpusStyle(j: number): ReplyStyle {
  return { polite: j % 3 === 0, long: Math.floor(j / 3) % 3 !== 0 };
}

/** Whole conversations (system prompt, customer lines, assistant replies) for SFT. */
export function demoCorpus(scenarios: DemoScenario[], options: DemoCorpusOptions = {}): Message[][] {
  const copies = options.copies ?? 4;
  const conversations: Message[][] = [];
  let j = 0;
  for (let copy = 0; copy < copies; copy++) {
    for (const scenario of scenarios) {
      const messages: Message[] = [{ role: 'system', content: DEMO_SYSTEM_PROMPT }];
      scenario.userTurns.forEach((line, turn) => {
        // Each part cycles at its own pace, so every opener meets every answer and explanation.
        const pick = { opener: Math.floor(j / 3), answer: j + copy, explanation: Math.floor(j / 9) };
        messages.push({ role: 'user', content: line }, { role: 'assistant', content: demoReply(scenario.metadata, turn, corpusStyle(j), pick) });
        j++;
      });
      conversations.push(messages);
    }
  }
  return conversations;
}
