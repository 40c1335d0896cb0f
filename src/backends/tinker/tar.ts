/**
 * Reads the regular files of a .tar.gz (ustar): Tinker servers hand out checkpoints as one.
 * Only what a checkpoint archive holds is supported: regular files and folders.
 */
import { gunzipSync } from 'node:zlib';
import { StatesetError } from '../../core/errors.js';

const BLOCK = 512;

/** path -> contents, for every regular file in the archive. */
export function readTarGz(archive: Uint8Array): Map<string, Uint8Array> {
  let tar: Uint8Array;
  try {
    tar = gunzipSync(archive);
  } catch (cause) {
    throw new StatesetError('ERR_BACKEND', `the checkpoint archive is not a valid .tar.gz (${(cause as Error).message}).`, { cause });
  }
  const files = new Map<string, Uint8Array>();
  for (let at = 0; at + BLOCK <= tar.length; ) {
    const header = tar.subarray(at, at + BLOCK);
    if (header.every((b) => b === 0)) break;
    const name = text(header, 0, 100);
    const prefix = text(header, 345, 155);
    const size = parseInt(text(header, 124, 12).trim() || '0', 8);
    const type = String.fromCharCode(header[156] || 48);
    if (!Number.isFinite(size) || at + BLOCK + size > tar.length) throw new StatesetError('ERR_BACKEND', `the checkpoint archive is truncated (entry ${name}).`);
    if (type === '0' || type === '\0') files.set(prefix ? `${prefix}/${name}` : name, tar.slice(at + BLOCK, at + BLOCK + size));
    at += BLOCK + Math.ceil(size / BLOCK) * BLOCK;
  }
  return files;
}

function text(bytes: Uint8Array, start: number, length: number): string {
  const field = bytes.subarray(start, start + length);
  const end = field.indexOf(0);
  return new TextDecoder().decode(end < 0 ? field : field.subarray(0, end));
}
