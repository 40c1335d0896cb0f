// Every object of a run config is strict: a misspelt key at any depth is an error naming
// its full path and the closest valid key, never a setting silently left at its default.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { closestKey } from '../src/config/zod-errors.js';
import { ConversationEnvironment, parseAgentConfig, parseRunConfig, resolveConfig, StatesetError } from '../src/index.js';
import { BUILTIN_REWARDS } from '../src/train/builtin-rewards.js';
import { createRewards } from '../src/train/run-config.js';
import { tempDir } from './helpers/tiny-model.js';
import { runCli } from './helpers/trainer.js';

/** The problem lines of a config that must not parse. */
function problems(raw: Record<string, unknown>): string[] {
  try {
    parseRunConfig({ model: 'tiny', ...raw }, 'run.yaml');
  } catch (err) {
    assert.ok(err instanceof StatesetError && err.code === 'ERR_INVALID_CONFIG', String(err));
    return err.message.split('\n').slice(1).map((line) => line.trim());
  }
  assert.fail(`${JSON.stringify(raw)} was accepted`);
}

describe('a misspelt key in any object of the run config', () => {
  const cases: Array<[string, Record<string, unknown>, string]> = [
    ['trainer.generation', { trainer: { generation: { max_new_tokens: 8 } } }, 'trainer.generation.max_new_tokens: unknown key, did you mean "maxNewTokens"?'],
    ['trainer.loss', { trainer: { loss: { agregation: 'token-mean' } } }, 'trainer.loss.agregation: unknown key, did you mean "aggregation"?'],
    ['trainer.loss (Dr. GRPO\'s L_max)', { trainer: { loss: { max_completion_length: 64 } } }, 'trainer.loss.max_completion_length: unknown key, did you mean "maxCompletionLength"?'],
    ['trainer.advantage', { trainer: { advantage: { estimater: 'rloo' } } }, 'trainer.advantage.estimater: unknown key, did you mean "estimator"?'],
    ['trainer.dynamicSampling', { trainer: { dynamicSampling: { maxRound: 2 } } }, 'trainer.dynamicSampling.maxRound: unknown key, did you mean "maxRounds"?'],
    ['trainer.overlong', { trainer: { overlong: { cache_length: 2 } } }, 'trainer.overlong.cache_length: unknown key, did you mean "cacheLength"?'],
    ['trainer', { trainer: { learningrate: 1e-4 } }, 'trainer.learningrate: unknown key, did you mean "learningRate"?'],
    ['agent', { agent: { sytemPrompt: 'Be brief.' } }, 'agent.sytemPrompt: unknown key, did you mean "systemPrompt"?'],
    ['agent.generation', { agent: { generation: { temprature: 0.7 } } }, 'agent.generation.temprature: unknown key, did you mean "temperature"?'],
    ['agent.lora', { agent: { lora: { rank: 4, alpah: 8 } } }, 'agent.lora.alpah: unknown key, did you mean "alpha"?'],
    ['environment', { environment: { type: 'conversation', maxTurn: 3 } }, 'environment.maxTurn: unknown key, did you mean "maxTurns"?'],
    ['tracking', { tracking: { tensorbaord: true } }, 'tracking.tensorbaord: unknown key, did you mean "tensorboard"?'],
    ['tracking.wandb', { tracking: { wandb: { project: 'p', entiy: 'me' } } }, 'tracking.wandb.entiy: unknown key, did you mean "entity"?'],
    ['scenarios { file }', { scenarios: { file: 's.yaml', fiel: 'x' } }, 'scenarios.fiel: unknown key, did you mean "file"?'],
    ['scenarios { module }', { scenarios: { module: './s.ts', exprt: 'list' } }, 'scenarios.exprt: unknown key, did you mean "export"?'],
    ['rewards.N', { rewards: [{ name: 'politeness', wieght: 2 }] }, 'rewards.0.wieght: unknown key, did you mean "weight"?'],
    ['rewards.N (own module)', { rewards: [{ module: './r.ts', exports: 'mine' }] }, 'rewards.0.exports: unknown key, did you mean "export"?'],
    ['rewards.N.options of a built-in', { rewards: [{ name: 'conciseness', options: { max_words: 40 } }] }, 'rewards.0.options.max_words: unknown key, did you mean "maxWords"?'],
    ['rewards.N.options.scale of llm_judge', { rewards: [{ name: 'politeness' }, { name: 'llm_judge', options: { baseURL: 'http://127.0.0.1:1/v1', model: 'j', rubric: 'r', scale: { min: 0, maks: 5 } } }] }, 'rewards.1.options.scale.maks'],
  ];
  for (const [where, raw, line] of cases) {
    it(where, () => {
      const lines = problems(raw);
      assert.ok(lines.some((l) => l.startsWith(line)), `expected a line starting ${JSON.stringify(line)} in:\n${lines.join('\n')}`);
    });
  }

  it('lists the known keys after the suggestion', () => {
    assert.deepEqual(problems({ trainer: { generation: { max_new_tokens: 8 } } }), [
      'trainer.generation.max_new_tokens: unknown key, did you mean "maxNewTokens"? (known keys: maxNewTokens, temperature, topP, topK, minP)',
    ]);
  });

  it('is an error through the TypeScript API too (train config, agent config)', () => {
    assert.throws(() => resolveConfig({ generation: { max_new_tokens: 8 } as never }), /generation\.max_new_tokens: unknown key, did you mean "maxNewTokens"\?/);
    assert.throws(() => resolveConfig({ loss: { beta: 0.1, klEstimater: 'k1' } as never }), /loss\.klEstimater: unknown key, did you mean "klEstimator"\?/);
    assert.throws(() => parseAgentConfig({ model: 'm', generation: { top_p: 0.9 } }), /AgentConfig\.generation\.top_p: unknown key, did you mean "topP"\?/);
  });

  it('a built-in reward checks its own options: every built-in accepts its real ones and names a wrong one', async () => {
    const valid: Record<string, Record<string, unknown>> = {
      politeness: { phrases: ['thanks'], enough: 1 },
      conciseness: { maxWords: 40, softness: 10 },
      length_penalty: { targetTokens: 20, coefficient: 0.5 },
      soft_overlong: { maxLength: 20, cacheLength: 4 },
      keywords: { include: ['refund'], exclude: ['no'] },
      regex: { pattern: 'order #\\d+', match: 1, noMatch: 0 },
      tool_success: { noCalls: 0.5 },
      llm_judge: { baseURL: 'http://127.0.0.1:1/v1', model: 'judge', rubric: 'Is it polite?', retries: 0 },
    };
    assert.deepEqual(Object.keys(valid).sort(), Object.keys(BUILTIN_REWARDS).sort(), 'a test case for every built-in');
    const config = parseRunConfig({ model: 'tiny', rewards: Object.entries(valid).map(([name, options]) => ({ name, options: { ...options, name: `my_${name}` } })) }, 'run.yaml');
    const made = await createRewards(config, tempDir());
    assert.deepEqual(Object.keys(made!.stats()).sort(), Object.keys(valid).map((n) => `my_${n}`).sort());
    for (const [name, options] of Object.entries(valid)) {
      assert.deepEqual(problems({ rewards: [{ name, options: { ...options, bogusOption: 1 } }] }), [
        `rewards.0.options.bogusOption: unknown key (known keys: name, scope, ${Object.keys((BUILTIN_REWARDS[name].options as unknown as { shape: object }).shape).slice(2).join(', ')})`,
      ]);
    }
  });

  it('a built-in that needs options says so when they are missing', () => {
    assert.deepEqual(problems({ rewards: [{ name: 'length_penalty' }] }), ['rewards.0.options: expected an object (key: value pairs), got nothing (the key is missing)']);
  });

  it('a reward that is neither a built-in nor a module says what to give', () => {
    const [line] = problems({ rewards: [{ weight: 2 }] });
    assert.match(line, /^rewards\.0\.module: give either name \(a built-in reward: politeness, conciseness, .*\) or module/);
    assert.match(problems({ rewards: [{ name: 'kindness' }] })[0], /^rewards\.0\.name: expected one of "politeness", "conciseness", .*, got "kindness"$/);
  });

  it('a scenario of the conversation environment is strict too', () => {
    const env = new ConversationEnvironment();
    assert.throws(() => env.checkScenario({ id: 'a', userTurn: ['hi'] }, 'scenarios.4'), /scenarios\.4\.userTurn: unknown key, did you mean "userTurns"\?/);
    assert.doesNotThrow(() => env.checkScenario({ id: 'a', userTurns: ['hi'], metadata: { topic: 'order' } }, 'scenarios.4'));
  });

  it('the suggestion ignores case, _ and -, and counts a swap of two letters as one edit', () => {
    assert.equal(closestKey('max_new_tokens', ['maxNewTokens', 'temperature']), 'maxNewTokens');
    assert.equal(closestKey('alpah', ['rank', 'alpha']), 'alpha');
    assert.equal(closestKey('colour', ['rank', 'alpha']), undefined);
  });

  it('stateset-agents train exits 2 on a misspelt nested key, before anything starts', async () => {
    const dir = tempDir();
    const file = join(dir, 'run.yaml');
    writeFileSync(file, 'model: tiny\nscenarios: [{ userTurns: [hi] }]\ntrainer:\n  generation: { max_new_tokens: 8 }\n');
    const { code, stderr } = await runCli(['train', '--config', file, '--out', join(dir, 'run')]).done;
    assert.equal(code, 2, stderr);
    assert.match(stderr, /trainer\.generation\.max_new_tokens: unknown key, did you mean "maxNewTokens"\?/);
  });
});
