/** State shared by the parts of one run, and how they report outcomes and failures. */
import type { ImageGraph } from '../../core/image-graph.js';
import type { CleanupPlan } from '../../core/plan-types.js';
import {
  type ApplyOptions,
  NOT_ATTEMPTED_STOPPED,
  type OperationOutcome,
} from '../../core/target.js';
import type { RegistryClient } from '../client.js';
import { DeleteDisabledError } from '../errors/delete-disabled-error.js';
import { JournalError } from '../errors/journal-error.js';
import { RateLimitError } from '../errors/rate-limit-error.js';
import { RegistryHttpError } from '../errors/registry-http-error.js';
import { RegistryUnreachableError } from '../errors/registry-unreachable-error.js';
import type { TagWatch } from '../tag-watch.js';
import type { ApplyJournal } from './journal-open.js';
import type { Prefetch } from './recheck.js';

export interface Context {
  client: RegistryClient;
  plan: CleanupPlan;
  graph: ImageGraph;
  signal: AbortSignal | undefined;
  /** {@link ApplyOptions.stop}, or the registry found dead: no operation starts once it fired. */
  stop: AbortSignal | undefined;
  /** Fired when the registry stopped answering (see {@link noteFailure}). */
  dead: AbortController;
  /** Operations in a row that failed because the registry could not be reached. */
  unreachable: number;
  /** When the last of them was counted (`performance.now()`; -Infinity before any). */
  lastUnreachableAt: number;
  /**
   * Errors counted already: one failed request (a tag list many DELETEs waited on) counts once,
   * however many operations it fails.
   */
  counted: WeakSet<object>;
  /** Why the run stopped by itself, for the operations not attempted. */
  deadReason: string | undefined;
  /** `plan.keptTags` as a set, built on first use. */
  keptTagSet?: Set<string>;
  outcomes: OperationOutcome[];
  /** Planned operations, plus each fallback-index rewrite as it is reported. */
  total: number;
  onProgress: ApplyOptions['onProgress'];
  /** The first error a progress callback threw: the run stops between waves and rethrows it. */
  progressError: { error: unknown } | undefined;
  /** Images deleted (or found gone). */
  gone: Set<string>;
  journal: ApplyJournal | undefined;
  /** Tag lists read for resumed untags, by repository. */
  listedTags: Map<string, Promise<Set<string>>>;
  /** Images the plan deletes. */
  planned: Set<string>;
  /** Each repository's tags as the re-check last read them. */
  watches: Map<string, TagWatch>;
  /** Planned deletions a current tag reaches, with the reason (filled as tags are read). */
  saved: Map<string, string>;
  /** The graph plus the manifests re-checks loaded since (copied from `graph` on first need). */
  checkGraph: ImageGraph | undefined;
  /** Manifests of planned deletions, fetched ahead of their DELETE. */
  bytes: Map<string, Prefetch>;
  tuning: ApplyTuning;
}

/**
 * Internal settings of {@link applyPlanTuned} for benchmarks and tests; not part of the public
 * API (the package entry points do not export them).
 */
export interface ApplyTuning {
  /**
   * Run the stale-plan re-check (tag reads around each DELETE, pushing back tags that went with
   * one). Default `true`; `false` only to measure what the re-check costs — it is unsafe.
   */
  recheck?: boolean;
  /**
   * DELETEs of one repository in flight at once. Default: `floor((concurrency - 1) / 2)` of the
   * client's (3 at the default 8; at least 1), so that each DELETE and the tag list it waits for
   * both fit in the client's concurrency with one request left for reading new names, and few
   * DELETEs share the blame for a tag that vanishes before its GET is answered (bench:race: 3 in
   * flight lost no push in 10 runs and ran as fast as 4, which lost one). With 1, a tag seen
   * going with a DELETE is always pushed back; with more, a tag whose image could not be read is
   * reported when several DELETEs in flight can have taken it.
   */
  batch?: number;
}

/**
 * DELETEs of one repository in flight at once: `floor((concurrency - 1) / 2)` (see
 * {@link ApplyTuning.batch}), unless tuned. The real run and the dry run's request list both read
 * it here.
 */
export function deleteBatchSize(
  client: { readonly concurrency: number },
  tuning: ApplyTuning,
): number {
  return Math.max(1, tuning.batch ?? Math.floor((client.concurrency - 1) / 2));
}

/**
 * Records an outcome and tells the progress callback. A `done` shows the registry answering (the
 * unreachable count starts again), unless its last answer (`answeredAt`, `performance.now()`;
 * default now) came before the last failure to reach the registry: an operation answered just
 * before the registry died, reported after others found it dead, proves nothing about it now.
 */
export function report(
  ctx: Context,
  outcome: OperationOutcome,
  { answeredAt = performance.now() }: { answeredAt?: number } = {},
): void {
  ctx.outcomes.push(outcome);
  if (outcome.status === 'done' && answeredAt > ctx.lastUnreachableAt) ctx.unreachable = 0;
  // Rewrites are not in the plan; they are found as the run goes.
  if (outcome.action === 'rewrite') ctx.total++;
  try {
    ctx.onProgress?.({ done: ctx.outcomes.length, total: ctx.total, outcome });
  } catch (error) {
    // Not the operation's failure: it is done (or not) whatever the callback does.
    ctx.progressError ??= { error };
  }
}

/** Reports an operation not started because the run was asked to stop, or the registry died. */
export function notAttempted(ctx: Context, action: 'untag' | 'delete', id: string): void {
  report(ctx, { action, id, status: 'skipped', reason: ctx.deadReason ?? NOT_ATTEMPTED_STOPPED });
}

/**
 * Requests in a row that may fail because the registry cannot be reached (each after its
 * retries: no connection, or a gateway answering 502/503/504) before the run stops by itself: a
 * registry that died must end the run in seconds, with the rest "not attempted", not retry every
 * remaining operation for minutes.
 */
export const DEAD_AFTER = 3;

/**
 * Why an error after every retry says the registry is not answering at all: no connection (the
 * system's code), or a gateway in front of it answering 502, 503 or 504 (a registry behind a proxy
 * that died looks like that); undefined for any other failure.
 */
function deadSign(ctx: Context, error: unknown): string | undefined {
  let sign: string;
  if (error instanceof RegistryUnreachableError) sign = error.causeCode ?? '';
  else if (error instanceof RegistryHttpError && GATEWAY_STATUSES.includes(error.status))
    sign = `HTTP ${error.status}`;
  else return undefined;
  // A token service or a platform API on another host: named, so the message does not blame
  // the registry itself.
  const host = hostOf(error.url);
  return host && host !== hostOf(ctx.client.url) ? `${sign}${sign ? ' ' : ''}from ${host}` : sign;
}

function hostOf(url: string): string | undefined {
  try {
    return new URL(url).host;
  } catch {
    return undefined;
  }
}

const GATEWAY_STATUSES: readonly number[] = [502, 503, 504];

/**
 * Counts a failed request (once, whatever number of operations it failed): enough failures in a
 * row to reach the registry stop the run.
 */
export function noteFailure(ctx: Context, error: unknown): void {
  const sign = deadSign(ctx, error);
  if (sign === undefined || ctx.counted.has(error as object)) return;
  ctx.counted.add(error as object);
  ctx.unreachable++;
  ctx.lastUnreachableAt = performance.now();
  if (ctx.unreachable >= DEAD_AFTER && !ctx.dead.signal.aborted) {
    const cause = sign ? ` (${sign})` : '';
    ctx.deadReason = `not attempted: the registry stopped answering${cause} — ${DEAD_AFTER} requests in a row failed after their retries`;
    ctx.dead.abort();
  }
}

/** Errors that end the whole run rather than one operation. */
export function mustStop(error: unknown, signal: AbortSignal | undefined): boolean {
  return (
    error instanceof DeleteDisabledError ||
    error instanceof JournalError ||
    error instanceof RateLimitError ||
    !!signal?.aborted
  );
}

export const EARLIER_RUN = 'done by an earlier run (undo journal); not sent again';

/**
 * Reports an operation an earlier run did (its journal says so): nothing is sent, so it proves
 * nothing about the registry now and does not restart the unreachable count.
 */
export function doneEarlier(ctx: Context, action: 'untag' | 'delete', id: string): void {
  report(
    ctx,
    { action, id, status: 'done', reason: EARLIER_RUN },
    { answeredAt: Number.NEGATIVE_INFINITY },
  );
}
