import type { OperationOutcome } from '../core/target.js';
import type { LoadProgress } from '../registry/load-graph.js';
import type { RestoreProgress } from '../registry/restore.js';
import type { CliIo } from './io.js';

/** Draws progress on standard error when it is a terminal; does nothing otherwise. */
export interface Progress {
  /** A status line, e.g. `loading oci:/data/layout`. */
  status(text: string): void;
  load(event: LoadProgress): void;
  apply(event: { done: number; total: number; outcome: OperationOutcome }): void;
  restore(event: RestoreProgress): void;
  /** Clears the line. */
  end(): void;
}

const WIDTH = 24;

function bar(done: number, total: number): string {
  // Clamped: counts come from callers, and a bar drawn wrong is better than an apply that throws.
  const filled = total > 0 ? Math.min(WIDTH, Math.max(0, Math.round((done / total) * WIDTH))) : 0;
  return `[${'#'.repeat(filled)}${'-'.repeat(WIDTH - filled)}] ${done}/${total}`;
}

/** A {@link Progress} for `io`: live on a terminal, silent otherwise (logs stay clean). */
export function createProgress(io: CliIo): Progress {
  if (!io.stderrIsTTY) return { status() {}, load() {}, apply() {}, restore() {}, end() {} };
  let drawn = false;
  let last = 0;
  // One column short of the width: a line that fills the last column wraps on some terminals, and
  // a wrapped line is no longer cleared by the next redraw.
  const width = Math.max(20, (io.stderrColumns ?? 80) - 1);
  const draw = (text: string, force = false) => {
    const now = Date.now();
    if (!force && now - last < 50) return;
    last = now;
    const line = text.length > width ? `${text.slice(0, width - 1)}…` : text;
    io.stderr(`\r\x1b[K${line}`);
    drawn = true;
  };
  return {
    status: (text) => draw(text, true),
    load(event) {
      const { repositories, tags, manifests } = event;
      const counts =
        event.phase === 'repositories'
          ? `repositories ${bar(repositories.done, repositories.total)}`
          : event.phase === 'tags'
            ? `tags ${bar(tags.done, tags.total)}`
            : `manifests ${bar(manifests.done, manifests.total)}`;
      draw(`loading ${counts}`, event.phase === 'done');
    },
    apply(event) {
      draw(
        `applying ${bar(event.done, event.total)} ${event.outcome.action} ${event.outcome.id}`,
        event.done === event.total,
      );
    },
    restore(event) {
      draw(`restoring: ${event.phase} ${bar(event.done, event.total)}`, event.done === event.total);
    },
    end() {
      if (drawn) io.stderr('\r\x1b[K');
      drawn = false;
    },
  };
}
