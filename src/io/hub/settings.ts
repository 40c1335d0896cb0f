/**
 * The Hub settings a user has already set for Python's huggingface_hub, read from the same
 * environment variables with the same defaults (huggingface_hub/constants.py), so that both
 * share one cache, one token and one mirror.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export const DEFAULT_ENDPOINT = 'https://huggingface.co';

export interface HubSettings {
  /** HF_ENDPOINT: the Hub or a mirror of it. */
  endpoint: string;
  /** HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub. */
  cacheDir: string;
  /** HF_TOKEN, else the token `hf auth login` saved (HF_TOKEN_PATH, else HF_HOME/token). */
  token: string | undefined;
  /** HF_HUB_OFFLINE=1: use the cache only, never the network. */
  offline: boolean;
  /** HF_HUB_DISABLE_PROGRESS_BARS=1 turns the download bar off. */
  progressBars: boolean;
}

type Env = Record<string, string | undefined>;

/** Python's `_is_true`. */
function isTrue(value: string | undefined): boolean {
  return value !== undefined && ['1', 'ON', 'YES', 'TRUE'].includes(value.toUpperCase());
}

function expandHome(path: string): string {
  return path === '~' || path.startsWith('~/') ? join(homedir(), path.slice(1)) : path;
}

/** A token as Python cleans it: trimmed, and absent when empty. */
function cleanToken(token: string | undefined): string | undefined {
  const trimmed = token?.replace(/\r|\n/g, '').trim();
  return trimmed ? trimmed : undefined;
}

function readToken(path: string): string | undefined {
  try {
    return cleanToken(readFileSync(path, 'utf8'));
  } catch {
    return undefined; // no saved token
  }
}

export function hfHome(env: Env = process.env): string {
  return expandHome(env.HF_HOME ?? join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'huggingface'));
}

export function hubSettings(env: Env = process.env): HubSettings {
  const home = hfHome(env);
  return {
    endpoint: (env.HF_ENDPOINT || DEFAULT_ENDPOINT).replace(/\/+$/, ''),
    cacheDir: expandHome(env.HF_HUB_CACHE ?? env.HUGGINGFACE_HUB_CACHE ?? join(home, 'hub')),
    token: cleanToken(env.HF_TOKEN || env.HUGGING_FACE_HUB_TOKEN) ?? readToken(expandHome(env.HF_TOKEN_PATH ?? join(home, 'token'))),
    offline: isTrue(env.HF_HUB_OFFLINE || env.TRANSFORMERS_OFFLINE),
    progressBars: !isTrue(env.HF_HUB_DISABLE_PROGRESS_BARS),
  };
}
