// The built-in reward functions, at turn and episode scope.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { conciseness, keywords, lengthPenalty, overlongPenalty, politeness, regexReward, softOverlongPunishment, toolSuccess, StatesetError, type RewardFunction } from '../src/index.js';
import { episodeOf, type ReplySpec } from './helpers/episodes.js';

/** Scores a one-reply episode at turn scope, or a whole episode at episode scope. */
async function score(reward: RewardFunction, replies: Array<string | ReplySpec>): Promise<number> {
  const episode = episodeOf(replies);
  const context = { scenario: {}, episode };
  const value = reward.scope === 'turn' ? await reward.score(episode.turns[0], context) : await reward.score(episode, context);
  return typeof value === 'number' ? value : value.score;
}

test('politeness matches phrases case-insensitively at word boundaries', async () => {
  const polite = politeness({ scope: 'turn' });
  assert.equal(await score(polite, ['THANK YOU for waiting.']), 1);
  assert.equal(await score(polite, ['Thank\n you!']), 1, 'any whitespace inside a phrase');
  assert.equal(await score(polite, ['Thanksgiving is on Thursday.']), 0, '"thanks" inside a word does not count');
  assert.equal(await score(polite, ['Pleased to meet you.']), 0);
  assert.equal(await score(politeness({ scope: 'turn', enough: 2 }), ['Sorry, please wait.', '']), 1);
  assert.equal(await score(politeness({ scope: 'turn', enough: 2 }), ['Please wait.']), 0.5);
  // episode scope: the mean over replies
  assert.equal(await score(politeness(), ['Thanks!', 'No.']), 0.5);
  assert.equal(await score(politeness({ scope: 'turn', phrases: ['c++'] }), ['I like C++ a lot']), 1, 'regex characters are literal');
});

test('conciseness is 1 up to the limit, then decays smoothly', async () => {
  const concise = conciseness({ maxWords: 4, scope: 'turn' });
  assert.equal(await score(concise, ['one two three four']), 1);
  assert.ok(Math.abs((await score(concise, ['one two three four five six'])) - Math.exp(-1)) < 1e-12, 'softness defaults to maxWords / 2');
  assert.ok((await score(concise, ['w '.repeat(40)])) < 1e-7);
});

test('softOverlongPunishment follows the section 4 formula', async () => {
  assert.equal(overlongPenalty(12, 20, 8), 0);
  assert.equal(overlongPenalty(16, 20, 8), -0.5);
  assert.equal(overlongPenalty(20, 20, 8), -1);
  assert.equal(overlongPenalty(21, 20, 8), -1);
  const overlong = softOverlongPunishment({ maxLength: 20, cacheLength: 8, scope: 'turn' });
  assert.equal(await score(overlong, [{ text: 'x', tokens: 14 }]), -0.25);
});

test('lengthPenalty is linear in the excess tokens', async () => {
  const penalty = lengthPenalty({ targetTokens: 10, coefficient: 2, scope: 'turn' });
  assert.equal(await score(penalty, [{ text: 'x', tokens: 8 }]), 0);
  assert.equal(await score(penalty, [{ text: 'x', tokens: 15 }]), -1);
});

test('regex and keyword rewards', async () => {
  assert.equal(await score(regexReward({ pattern: /order #\d+/i, scope: 'turn' }), ['Your ORDER #123 shipped']), 1);
  assert.equal(await score(regexReward({ pattern: '^\\d+$', match: 1, noMatch: -1, scope: 'turn' }), ['twelve']), -1);
  const kw = keywords({ include: ['refund', 'order number'], exclude: ['unfortunately'], scope: 'turn' });
  assert.equal(await score(kw, ['Please send your order number for the refund.']), 1);
  assert.equal(await score(kw, ['Unfortunately, no refund.']), 0.5 - 1);
});

test('toolSuccess is the fraction of calls that ran', async () => {
  const ok = { name: 'lookup', ok: true };
  const failed = { name: 'lookup', ok: false, error: 'bad' };
  assert.equal(await score(toolSuccess(), [{ text: 'a', toolCalls: [ok, failed] }, { text: 'b', toolCalls: [ok, ok] }]), 0.75);
  assert.equal(await score(toolSuccess(), ['no calls']), 0);
  assert.equal(await score(toolSuccess({ noCalls: 1, scope: 'turn' }), ['no calls']), 1);
});

test('bad options are refused with ERR_INVALID_REWARD', () => {
  const refused = (fn: () => unknown, message: RegExp) => assert.throws(fn, (e: unknown) => e instanceof StatesetError && e.code === 'ERR_INVALID_REWARD' && message.test(e.message));
  refused(() => conciseness({ maxWords: 0 }), /maxWords must be positive/);
  refused(() => softOverlongPunishment({ maxLength: 10, cacheLength: 20 }), /cacheLength/);
  refused(() => politeness({ phrases: [] }), /non-empty list/);
  refused(() => regexReward({ pattern: '(' }), /not a valid regular expression/);
  refused(() => keywords({}), /include or an exclude/);
});
