import { CLEAR_LINE, type CliContext } from './cli-context';
import { formatBytes } from '@mlis/contracts/bytes';

// Redrawn at most this often: a terminal line, not a log.
const REDRAW_MS = 250;

export interface TransferProgress {
  /** The transfer now stands at `bytes` (it may go back: an upload sent again starts from 0). */
  at(bytes: number): void;
  /** Erases the line before anything else is written. */
  end(): void;
}

/**
 * One line on stderr, redrawn in place, saying how far a transfer has got: "uploading model.onnx: 120.0 MiB of
 * 1.0 GiB (11 %), 48.2 MiB/s". Only where the CLI's stderr is a terminal (`io.progress`): a script or a pipe gets
 * nothing, as with `curl -s`.
 */
export function transferProgress(context: CliContext, label: string, total: number | null): TransferProgress {
  if (!context.io.progress) return { at: () => undefined, end: () => undefined };
  const startedAt = context.now().getTime();
  let drawnAt = Number.NEGATIVE_INFINITY;
  let drawn = false;
  return {
    at(bytes) {
      const now = context.now().getTime();
      if (now - drawnAt < REDRAW_MS && bytes !== total) return;
      drawnAt = now;
      drawn = true;
      const seconds = (now - startedAt) / 1000;
      const rate = seconds > 0 ? `, ${formatBytes(bytes / seconds)}/s` : '';
      const share = total ? ` of ${formatBytes(total)} (${Math.floor((100 * bytes) / total)} %)` : '';
      context.io.stderr(`${CLEAR_LINE}${label}: ${formatBytes(bytes)}${share}${rate}`);
    },
    end() {
      if (drawn) context.io.stderr(CLEAR_LINE);
      drawn = false;
    },
  };
}
