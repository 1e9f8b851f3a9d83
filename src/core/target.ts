import type { ImageGraph } from './image-graph.js';
import type { CleanupPlan } from './plan-types.js';

/** What an adapter did (or, in a dry run, would do) with one operation. */
export interface OperationOutcome {
  /** `untag` a tag, `delete` an image, `delete-blob` (layouts), `rewrite` a referrers fallback index or `index.json`. */
  action: 'untag' | 'delete' | 'delete-blob' | 'rewrite';
  /** The tag, image or blob id. */
  id: string;
  /** `planned` only in dry runs. */
  status: 'done' | 'skipped' | 'failed' | 'planned';
  /** Why it was skipped or failed, or a note on how it was done. */
  reason?: string;
  /** Requests sent (or, in a dry run, that would be sent), e.g. `DELETE /v2/app/manifests/sha256:…`. */
  requests?: string[];
  /**
   * Tags (`repo:tag`) that were pushed onto this image while it was being deleted, went with it
   * (a registry's digest DELETE removes every tag on the digest) and were pushed back at once
   * from its bytes; the reason then starts with `restored after concurrent push`. The image is
   * there again, so the outcome is `skipped`. Only set when that happened.
   */
  restored?: string[];
}

/** The result of applying a plan. */
export interface ApplyResult {
  dryRun: boolean;
  /**
   * Every operation of the plan. The registry adapter lists them in plan order (untags, then wave
   * by wave: rewrites, then deletions by id), not in the order the registry answered, so that two
   * runs diff cleanly.
   */
  outcomes: OperationOutcome[];
  totals: { done: number; skipped: number; failed: number; planned: number };
  /** Bytes of blobs no remaining image needs (for registries: what their own GC can now free). */
  reclaimableBytes: number;
  /** Things a person should know, e.g. that storage is freed only by the registry's garbage collection. */
  notes: string[];
  /**
   * `true` when {@link ApplyOptions.stop} ended the run early: operations not started are
   * `skipped` with the reason {@link NOT_ATTEMPTED_STOPPED}. Absent otherwise.
   */
  stopped?: boolean;
}

/** The reason of an operation that was not started because {@link ApplyOptions.stop} fired. */
export const NOT_ATTEMPTED_STOPPED = 'not attempted: stopped';

/** Options every adapter's apply understands. */
export interface ApplyOptions {
  /** Report what would be done without changing anything. Default `false`. */
  dryRun?: boolean;
  /** Called after each operation. */
  onProgress?: (event: { done: number; total: number; outcome: OperationOutcome }) => void;
  /** Aborts the run, requests in flight included (the run rejects with the abort reason). */
  signal?: AbortSignal;
  /**
   * Stops the run gently (e.g. on Ctrl-C): checked between operations, it starts no new
   * operation, lets those in flight finish (their requests are not aborted, an undo journal gets
   * their end), and resolves with the usual result, `stopped: true`, the operations not started
   * `skipped` with the reason {@link NOT_ATTEMPTED_STOPPED}. Registry adapter: checked before
   * each untag and each manifest DELETE. Layout adapter: checked before `index.json` is rewritten
   * and before each blob removal (a stop after the rewrite leaves unneeded blobs, which a later
   * run removes as strays). Default: never stops.
   */
  stop?: AbortSignal;
}

/**
 * The one narrow interface both adapters implement, so the CLI and scripts treat a registry and an
 * OCI layout alike: load a graph, carry out a plan.
 */
export interface CleanupTarget {
  /** e.g. `http://127.0.0.1:5000` or `oci:/path/to/layout`. */
  readonly description: string;
  loadGraph(options?: { signal?: AbortSignal; dates?: boolean }): Promise<ImageGraph>;
  applyPlan(plan: CleanupPlan, options?: ApplyOptions): Promise<ApplyResult>;
}
