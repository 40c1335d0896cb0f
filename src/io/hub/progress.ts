/**
 * Download progress on stderr: a live bar (bytes, speed, ETA) on a terminal when the
 * download is long enough to wait for, one plain line otherwise (logs and CI keep no
 * redrawn bars). HF_HUB_DISABLE_PROGRESS_BARS=1 silences both, as it does in Python.
 */
import { SingleBar } from 'cli-progress';

export interface DownloadProgress {
  /** Bytes received. */
  advance(bytes: number): void;
  finish(): void;
}

/** Below this, a download ends before a bar would be worth drawing. */
const BAR_BYTES = 8 * 1024 * 1024;

export function megabytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(bytes < 1e7 ? 2 : 1)} MB`;
}

/**
 * `total` bytes to have, `resumed` of them already on disk from an interrupted download.
 * The plain line says where the files go; the bar keeps to one terminal line.
 */
export function downloadProgress(title: string, where: string, total: number, resumed: number, enabled: boolean, stream: NodeJS.WriteStream = process.stderr): DownloadProgress {
  if (!enabled || total === 0) return { advance() {}, finish() {} };
  if (!stream.isTTY || total - resumed < BAR_BYTES) {
    stream.write(`${title} into ${where} (${megabytes(total)}${resumed > 0 ? `, resuming after ${megabytes(resumed)}` : ''})\n`);
    return { advance() {}, finish() {} };
  }
  const started = Date.now();
  let done = resumed;
  const bar = new SingleBar({
    stream,
    format: `${title} {bar} {percentage}% | {got} / {size} | {speed} | ETA {eta_formatted}`,
    barsize: 24,
    hideCursor: true,
    etaBuffer: 50,
  });
  const payload = () => ({ got: megabytes(done), size: megabytes(total), speed: `${megabytes((done - resumed) / Math.max((Date.now() - started) / 1000, 1e-3))}/s` });
  bar.start(total, done, payload());
  return {
    advance(bytes) {
      done += bytes;
      bar.update(done, payload());
    },
    finish() {
      bar.stop();
    },
  };
}
