/**
 * Supervised fine-tuning data. Two sources:
 *  - a dataset of conversations: every assistant message is a target; its sequence is the
 *    conversation before it (rendered with the chat template and the assistant header),
 *    then the message's tokens and the end-of-turn token, which are the loss tokens;
 *  - best-of-n rejection sampling when no dataset is given: of each group of rollouts,
 *    the member with the highest reward becomes a target, its sampled tokens as they are.
 */
import { z } from 'zod';
import type { Agent } from '../agent/agent.js';
import type { Trajectory } from '../core/episode.js';
import { StatesetError } from '../core/errors.js';
import { messagesSchema, type Message } from '../core/messages.js';
import { parseWith } from '../core/validate.js';
import type { TrainBatch } from '../model/train.js';

export interface SftExample {
  sequence: Int32Array;
  mask: Uint8Array;
}

const conversationSchema = z.object({ messages: messagesSchema });

/** One example per assistant message of each conversation ({ messages: [...] } items). */
export function sftExamples(agent: Agent, conversations: unknown[]): SftExample[] {
  if (!Array.isArray(conversations) || conversations.length === 0) {
    throw new StatesetError('ERR_INVALID_DATASET', 'the SFT dataset is empty: give a list of { messages: [...] } conversations with assistant messages as targets.');
  }
  const endOfTurn = agent.stopTokenIds[0];
  const examples = conversations.flatMap((item, i) => {
    const { messages } = parseWith(conversationSchema, item, 'ERR_INVALID_DATASET', `dataset[${i}]`) as { messages: Message[] };
    return messages.flatMap((message, k) => {
      if (message.role !== 'assistant' || k === 0) return [];
      const prompt = agent.encodePrompt(messages.slice(0, k));
      const target = [...agent.policy.tokenize(message.content), ...(endOfTurn === undefined ? [] : [endOfTurn])];
      const sequence = Int32Array.from([...prompt, ...target]);
      const mask = new Uint8Array(sequence.length).fill(1, prompt.length);
      return [{ sequence, mask }];
    });
  });
  if (examples.length === 0) {
    throw new StatesetError('ERR_INVALID_DATASET', 'the SFT dataset has no targets: each conversation needs an assistant message after at least one other message.');
  }
  return examples;
}

/** Of each group, the member with the highest reward (ties: the first); groups without a valid reward give none. */
export function bestOfGroups<S>(trajectories: Trajectory<S>[], groupSize: number): Trajectory<S>[] {
  const best: Trajectory<S>[] = [];
  for (let i = 0; i < trajectories.length; i += groupSize) {
    const valid = trajectories.slice(i, i + groupSize).filter((t) => Number.isFinite(t.reward));
    if (valid.length) best.push(valid.reduce((a, b) => (b.reward > a.reward ? b : a)));
  }
  return best;
}

export function sftBatch(examples: SftExample[]): TrainBatch {
  return { sequences: examples.map((e) => e.sequence), masks: examples.map((e) => e.mask) };
}
