// Upload progress on stderr: a bar redrawn in place when stderr is a
// terminal; otherwise (a CI log, a pipe) one plain line per tenth of the
// file, so a log shows that a long import is moving without a line per
// chunk. Small files show nothing: they are sent before a bar could help.
/** Below this size no progress is shown at all. */
export const PROGRESS_MIN_BYTES = 4 * 1024 * 1024;
/** A terminal bar is redrawn at most this often (a chunk arrives every few milliseconds). */
const REDRAW_INTERVAL_MS = 100;
const BAR_WIDTH = 30;
/** Plain-line mode prints one line per this fraction of the file. */
const PLAIN_STEP = 0.1;

export interface ProgressSink {
  readonly isTTY?: boolean | undefined;
  write(text: string): unknown;
}

export interface Progress {
  update(sentBytes: number): void;
  /** The upload ended (the server is now checking and recording); `note` says what happens next. */
  finish(note: string): void;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
}

function status(sent: number, total: number, elapsedMs: number): string {
  const rate = elapsedMs > 0 ? (sent * 1000) / elapsedMs : 0;
  const percent = total === 0 ? 100 : Math.min(100, Math.floor((sent * 100) / total));
  return `${String(percent).padStart(3)}% ${formatBytes(sent)} / ${formatBytes(total)}, ${formatBytes(rate)}/s`;
}

export function progressReporter(options: { sink: ProgressSink; totalBytes: number; label: string; now?: () => number }): Progress {
  const now = options.now ?? (() => performance.now());
  const { sink, totalBytes, label } = options;
  const started = now();
  if (totalBytes < PROGRESS_MIN_BYTES) return { update: () => undefined, finish: () => undefined };
  if (sink.isTTY === true) {
    let drawnAt = Number.NEGATIVE_INFINITY;
    const draw = (sent: number): void => {
      const filled = totalBytes === 0 ? BAR_WIDTH : Math.min(BAR_WIDTH, Math.floor((sent * BAR_WIDTH) / totalBytes));
      sink.write(`\r${label} [${"#".repeat(filled)}${"-".repeat(BAR_WIDTH - filled)}] ${status(sent, totalBytes, now() - started)}  `);
    };
    return {
      update(sent) {
        if (now() - drawnAt < REDRAW_INTERVAL_MS && sent < totalBytes) return;
        drawnAt = now();
        draw(sent);
      },
      finish(note) {
        draw(totalBytes);
        sink.write(`\n${note}\n`);
      },
    };
  }
  let nextStep = PLAIN_STEP;
  return {
    update(sent) {
      if (sent < nextStep * totalBytes) return;
      while (nextStep * totalBytes <= sent) nextStep += PLAIN_STEP;
      sink.write(`${label}: ${status(sent, totalBytes, now() - started)}\n`);
    },
    finish(note) {
      sink.write(`${note}\n`);
    },
  };
}
