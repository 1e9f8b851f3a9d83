import type { ImageGraph } from './image-graph.js';
import type { CleanupPlan } from './plan-types.js';
import type { VerifyReport } from './verify-report.js';

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

/** Counters of a load in progress, as an adapter reports them. */
export interface LoadProgress {
  /** What the adapter is reading now; `done` once the graph is complete. */
  phase: 'repositories' | 'tags' | 'manifests' | 'dates' | 'done';
  repositories: { done: number; total: number };
  tags: { done: number; total: number };
  manifests: { done: number; total: number };
}

/** Options every adapter's load understands. */
export interface TargetLoadOptions {
  /** Aborts the load (it rejects with the abort reason). */
  signal?: AbortSignal;
  /** Read `created` dates (needed by age- and newest-based policies). Default `false`. */
  dates?: boolean;
  /** Called as the load's counters change (the layout adapter reports only `done`). */
  onProgress?: (event: LoadProgress) => void;
}

/**
 * The one narrow interface both adapters implement, so the CLI and scripts treat a registry and an
 * OCI layout alike: load a graph, check a plan from elsewhere, carry a plan out, and (where the
 * adapter can) verify that tags still pull. The same caller mistake gets the same error from
 * both: `InvalidPlanError` for something that is not a plan, `PlanMismatchError` for a plan
 * made for another target.
 * @example
 * ```ts
 * import { planCleanup, type CleanupTarget } from 'regprune';
 * async function prune(target: CleanupTarget, keep: string[]) {
 *   const plan = planCleanup(await target.loadGraph(), keep);
 *   return target.applyPlan(plan, { dryRun: true });
 * }
 * ```
 */
export interface CleanupTarget {
  /** Which adapter this is: `registry` or `layout`. */
  readonly kind: 'registry' | 'layout';
  /** e.g. `http://127.0.0.1:5000` or `oci:/path/to/layout` (absolute). Plans record it. */
  readonly description: string;
  /** Reads the target into an image graph. */
  loadGraph(options?: TargetLoadOptions): Promise<ImageGraph>;
  /**
   * Checks a plan that comes from elsewhere (a JSON file, a review step) before it is applied:
   * its shape, and that it was made for this target. Returns the plan, typed.
   * @throws {InvalidPlanError} when `plan` is not a regprune plan.
   * @throws {PlanMismatchError} when the plan records another target.
   */
  checkPlan(plan: unknown): CleanupPlan;
  /**
   * Carries a plan out (or, with `dryRun`, reports what it would do). Checks the plan as
   * {@link CleanupTarget.checkPlan} does first.
   */
  applyPlan(plan: CleanupPlan, options?: ApplyOptions): Promise<ApplyResult>;
  /**
   * Checks that these tags pull completely (manifest, index children, blobs, referrers' subjects).
   * Only adapters that can check this offer it (the registry adapter does).
   */
  verify?(tags: readonly string[]): Promise<VerifyReport>;
}
