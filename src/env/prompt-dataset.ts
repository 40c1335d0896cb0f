/**
 * PromptDataset: single-turn tasks (one prompt, one reply) from an array or a JSONL file.
 * Each item becomes a ConversationScenario; run them in a ConversationEnvironment with
 * maxTurns 1 (see `singleTurnEnvironment`).
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { StatesetError } from '../core/errors.js';
import { parseWith } from '../core/validate.js';
import { ConversationEnvironment, type ConversationEnvironmentOptions } from './conversation.js';
import type { ConversationScenario } from './scenario.js';

const promptItemSchema = z.looseObject({
  prompt: z.string().min(1),
  id: z.string().optional(),
  /** A system prompt for this item. */
  system: z.string().optional(),
});

export type PromptItem = z.infer<typeof promptItemSchema>;

export class PromptDataset {
  private constructor(readonly items: readonly PromptItem[]) {}

  /** Items are objects with a `prompt` string; every other field goes to the scenario's metadata. */
  static fromArray(items: unknown[]): PromptDataset {
    if (!Array.isArray(items)) throw new StatesetError('ERR_INVALID_DATASET', 'PromptDataset.fromArray expects an array of { prompt } objects.');
    return new PromptDataset(items.map((item, i) => parseWith(promptItemSchema, item, 'ERR_INVALID_DATASET', `item[${i}]`)));
  }

  /** One JSON object per line; blank lines are skipped. */
  static async fromJsonl(path: string): Promise<PromptDataset> {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (cause) {
      throw new StatesetError('ERR_INVALID_DATASET', `cannot read the dataset ${path}: ${(cause as Error).message}`, { cause });
    }
    const items = text.split('\n').flatMap((line, i) => {
      if (line.trim() === '') return [];
      try {
        return [parseWith(promptItemSchema, JSON.parse(line), 'ERR_INVALID_DATASET', `${path} line ${i + 1}`)];
      } catch (cause) {
        if (cause instanceof StatesetError) throw cause;
        throw new StatesetError('ERR_INVALID_DATASET', `${path} line ${i + 1} is not valid JSON: ${(cause as Error).message}`, { cause });
      }
    });
    if (items.length === 0) throw new StatesetError('ERR_INVALID_DATASET', `${path} has no items: write one {"prompt": ...} object per line.`);
    return new PromptDataset(items);
  }

  get size(): number {
    return this.items.length;
  }

  scenarios(): ConversationScenario[] {
    return this.items.map(({ prompt, id, system, ...metadata }, i) => ({
      id: id ?? String(i),
      userTurns: [prompt],
      ...(system === undefined ? {} : { systemPrompt: system }),
      metadata,
    }));
  }
}

/** An environment that ends after the first reply: the one PromptDataset scenarios need. */
export function singleTurnEnvironment(options: Omit<ConversationEnvironmentOptions, 'maxTurns' | 'user'> = {}): ConversationEnvironment {
  return new ConversationEnvironment({ ...options, maxTurns: 1 });
}
