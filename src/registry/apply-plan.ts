// Over 400 lines (about 1,500): orchestration, the per-DELETE re-check, untag, delete,
// fallback-index rewrites and the dry run still share one Context; issue 14 (apply split by
// operation into a folder) is the planned split, not done in this session because seven concurrent
// changes landed in this file.
import {
  blockedByRemainingPointers,
  classifyTag,
  fallbackIndexAfterDeletes,
  recheckRoots,
} from '../core/attachments.js';
import { PlanMismatchError } from '../core/errors/plan-mismatch-error.js';
import { PlanRefusedError } from '../core/errors/plan-refused-error.js';
import type { ImageGraph } from '../core/image-graph.js';
import {
  digestOfImage,
  imageId,
  repositoryOfImage,
  repositoryOfTag,
  tagId,
  tagName,
} from '../core/naming.js';
import { assertPlanShape, checkPlanTarget } from '../core/plan-file.js';
import type { CleanupPlan, DeleteOperation } from '../core/plan-types.js';
import { recheckPlan } from '../core/recheck.js';
import {
  type ApplyOptions,
  type ApplyResult,
  NOT_ATTEMPTED_STOPPED,
  type OperationOutcome,
} from '../core/target.js';
import {
  type ApplyJournal,
  beginIntent,
  confirmFinished,
  draftOf,
  endEarlier,
  finishInterruptedRewrites,
  type IntentDraft,
  journaled,
  mediaTypeOf,
  openApplyJournal,
  type Settle,
  settleEarlierRuns,
} from './apply-journal.js';
import { buildGraph } from './build-graph.js';
import type { RegistryClient } from './client.js';
import { removeDanglingTags } from './dangling-tags.js';
import { digestOf } from './digest.js';
import { DeleteDisabledError } from './errors/delete-disabled-error.js';
import { DeleteRefusedError } from './errors/delete-refused-error.js';
import { JournalError } from './errors/journal-error.js';
import { RateLimitError } from './errors/rate-limit-error.js';
import { RegistryHttpError } from './errors/registry-http-error.js';
import { RegistryUnreachableError } from './errors/registry-unreachable-error.js';
import type { JournalIntent, JournalKey } from './journal.js';
import { loadGraph } from './load-graph.js';
import { Loader } from './loader.js';
import type { Descriptor } from './manifest.js';
import { OCI_INDEX } from './media-types.js';
import { platformDryRun } from './platform/dry-run.js';
import { checkDigest, checkRepository, checkTag } from './reference.js';
import { lookupTag, type Resolution, TagWatch } from './tag-watch.js';
import type { FetchedManifest } from './types.js';
import { removeOwnPlaceholder, removeTag } from './untag.js';

/** Options of {@link applyPlan}. */
export interface RegistryApplyOptions extends ApplyOptions {
  /**
   * The graph the plan was made from. It tells the stale-plan re-check what each image needs.
   * Default: the plan's repositories are loaded again (plus its planned digests).
   */
  graph?: ImageGraph;
  /**
   * Path of an undo journal (JSON lines). Before each destructive request (manifest DELETE,
   * placeholder push for an untag, fallback index rewrite) the manifest's exact bytes and the tags
   * on it are appended and fsynced; after it, how it ended (for a DELETE, once the tags a failing
   * registry may have left behind are removed too). {@link restore} undoes the run from
   * it (every run it holds). Running again with the same plan and journal resumes: operations the
   * journal records as done are not sent again. A journal whose last run is of another plan (a
   * re-plan after an interrupted run, next week's cleanup) is appended to: what earlier runs left
   * unfinished is first settled against the registry as it is now (see `settleEarlierRuns`), then
   * a new run line starts; pass `journalLeftovers(journal, url)` to {@link loadGraph} as
   * `extraDigests` when re-planning, so that manifests an interrupted run left untagged are
   * planned too. A journal of another registry is refused. Default: no journal.
   *
   * A journal may be edited by others (a CI cache): a resumed run believes a record only for an
   * operation of this plan and only where the registry agrees (a "done" delete whose image is
   * still there is re-checked and done again; an interrupted fallback-index rewrite deletes its
   * old index only when no current tag reaches it); records it ignores are listed in the notes.
   */
  journal?: string;
  /**
   * Key of the journal's HMAC-SHA256 integrity chain: without it a forger who can write the
   * journal can recompute its plain SHA-256 chain. Resuming or restoring needs the same key.
   * Default: none.
   */
  journalKey?: JournalKey;
}

/** The note every registry result carries: deletes unlink, only the registry's GC frees storage. */
export const GC_NOTE =
  'Deleting manifests only unlinks them: storage is freed when the registry runs its own garbage collection, e.g. `docker-registry garbage-collect /etc/docker/registry/config.yml` (registry stopped or read-only). Do not add `--delete-untagged`/`-m` on distribution 2.8: it also deletes the children of tagged multi-arch indexes.';

interface Context {
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
   * DELETEs of one repository sent together after one tag read. Default: the client's
   * concurrency less one (7), so that one connection is left to the tag lists sent while they are
   * in flight. 1 pushes back a known tag moved onto the image; with more, such a tag is reported
   * (which of the images it was moved onto cannot be told).
   */
  batch?: number;
}

function report(ctx: Context, outcome: OperationOutcome): void {
  ctx.outcomes.push(outcome);
  if (outcome.status === 'done') ctx.unreachable = 0;
  // Rewrites are not in the plan; they are found as the run goes.
  if (outcome.action === 'rewrite') ctx.total++;
  try {
    ctx.onProgress?.({ done: ctx.outcomes.length, total: ctx.total, outcome });
  } catch (error) {
    // Not the operation's failure: it is done (or not) whatever the callback does.
    ctx.progressError ??= { error };
  }
}

function validate(plan: CleanupPlan): void {
  // A layout's ids (`@sha256:…`) and tags (bare names) name no repository: the same caller
  // mistake as a plan recording another target, so the same error as the layout adapter gives.
  const layoutId = [...plan.delete.map((op) => op.image), ...plan.untag.map((op) => op.image)].find(
    (id) => id.startsWith('@'),
  );
  if (layoutId !== undefined) {
    throw new PlanMismatchError(
      layoutId,
      'it is an OCI layout image id (@<digest>), not a registry one (repo@<digest>): the plan was made for a layout, not for this registry',
    );
  }
  for (const op of plan.untag) {
    checkRepository(repositoryOfTag(op.tag), `plan untag ${op.tag}`);
    checkTag(tagName(op.tag), `plan untag ${op.tag}`);
    checkDigest(digestOfImage(op.image), `plan untag ${op.tag}`);
  }
  for (const op of plan.delete) {
    checkRepository(repositoryOfImage(op.image), `plan delete ${op.image}`);
    checkDigest(digestOfImage(op.image), `plan delete ${op.image}`);
  }
}

function fallbackTagOf(digest: string): string {
  return digest.replace(':', '-');
}

/**
 * Carries out a plan on the registry: untags (tag DELETE, or a unique placeholder pushed to the
 * tag and deleted by digest), then deletes wave by wave with bounded concurrency — never X while
 * something pointing at X is still there. Before the first change it probes every repository
 * involved, so a registry with deletes disabled (405) or a refused `delete` scope stops with
 * nothing touched. Right before each batch of a repository's DELETEs (the client's concurrency
 * less one at a time) it reads the repository's tags again (resolving only names not seen before)
 * and asks the core which deletions a current tag now reaches ({@link recheckPlan}); those are
 * skipped as "changed since plan". While the DELETEs are in flight it lists the tags again and
 * again, resolving new names at once; right after them, a tag not planned to go that vanished
 * with them is pushed back from the bytes of the image it was on: the outcome is `skipped`, with
 * `restored` (when which of several images it was on cannot be told, it is reported instead). Referrers fallback indexes are rewritten without deleted
 * referrers (their tag removed when empty) before the referrers go. An image found gone without a
 * clean 202 (distribution 2.8 can fail after unlinking it, before dropping its tags) has those of
 * its planned tags that are still listed but answer 404 removed; a tag pushed again is left alone.
 *
 * @throws {InvalidPlanError} when `plan` is not a plan.
 * @throws {PlanRefusedError} when the plan was refused (nothing is touched).
 * @throws {PlanMismatchError} when the plan records another target (`plan.origin.target`).
 * @throws {DeleteDisabledError} when the registry refuses deletes (nothing is touched).
 * @throws {AuthError} naming the refused scope.
 */
export async function applyPlan(
  client: RegistryClient,
  plan: CleanupPlan,
  options: RegistryApplyOptions = {},
): Promise<ApplyResult> {
  return applyPlanTuned(client, plan, options, {});
}

/** {@link applyPlan} with internal settings (benchmarks, tests). */
export async function applyPlanTuned(
  client: RegistryClient,
  plan: CleanupPlan,
  options: RegistryApplyOptions,
  tuning: ApplyTuning,
): Promise<ApplyResult> {
  assertPlanShape(plan);
  if (plan.refused) throw new PlanRefusedError(plan.refused.reason);
  checkPlanTarget(plan, client.url);
  validate(plan);
  const dryRun = options.dryRun ?? false;
  const repositories = [
    ...new Set([
      ...plan.untag.map((op) => repositoryOfTag(op.tag)),
      ...plan.delete.map((op) => repositoryOfImage(op.image)),
    ]),
  ].sort();
  if (dryRun) {
    const result = dryRunResult(plan, repositories, options, client);
    return client.platform ? platformDryRun(client.platform, result) : result;
  }
  const signal = options.signal;
  // A journal of another plan or registry is refused before the registry is read again.
  const journal = options.journal
    ? await openApplyJournal(options.journal, plan, client.url, options.journalKey)
    : undefined;
  try {
    const graph =
      options.graph ??
      (await loadGraph(client, {
        repositories,
        extraDigests: plan.delete.map((op) => op.image),
        signal,
      }));
    const dead = new AbortController();
    const ctx: Context = {
      client,
      plan,
      graph,
      signal,
      stop: options.stop ? AbortSignal.any([options.stop, dead.signal]) : dead.signal,
      dead,
      unreachable: 0,
      deadReason: undefined,
      outcomes: [],
      total: plan.untag.length + plan.delete.length + (plan.danglingTags?.length ?? 0),
      onProgress: options.onProgress,
      gone: new Set(),
      journal,
      listedTags: new Map(),
      progressError: undefined,
      planned: new Set(plan.delete.map((op) => op.image)),
      watches: new Map(),
      saved: new Map(),
      checkGraph: undefined,
      bytes: new Map(),
      tuning,
    };
    return await applyWaves(ctx, repositories);
  } finally {
    await journal?.writer.close();
  }
}

async function applyWaves(ctx: Context, repositories: string[]): Promise<ApplyResult> {
  const { client, plan, graph, signal, journal } = ctx;
  // Probe first: a registry with deletes disabled, or a refused delete scope, stops here.
  for (const repo of repositories) await client.probeDelete(repo, { signal });
  if (journal) {
    await settleEarlierRuns(client, journal, plan, graph, signal);
    // Resumed work is believed only for plan operations the registry confirms (see the journal).
    await confirmFinished(client, journal, plan, signal);
    for (const o of await finishInterruptedRewrites(client, journal, plan, graph, signal))
      report(ctx, o);
  }

  await Promise.all(plan.untag.map((op) => untagOne(ctx, op.tag, op.image)));
  await removePlannedDanglingTags(ctx);

  const waves = new Map<number, DeleteOperation[]>();
  for (const op of plan.delete) {
    if (journal?.finished.has(`delete ${op.image}`)) {
      ctx.gone.add(op.image);
      report(ctx, { action: 'delete', id: op.image, status: 'done', reason: EARLIER_RUN });
      continue;
    }
    const list = waves.get(op.wave);
    if (list) list.push(op);
    else waves.set(op.wave, [op]);
  }
  for (const wave of [...waves.keys()].sort((a, b) => a - b)) {
    signal?.throwIfAborted();
    if (ctx.progressError) throw ctx.progressError.error;
    const ops = waves.get(wave) as DeleteOperation[];
    if (ctx.stop?.aborted) {
      for (const op of ops) notAttempted(ctx, 'delete', op.image);
      continue;
    }
    const byRepo = new Map<string, DeleteOperation[]>();
    for (const op of ops) {
      const repo = repositoryOfImage(op.image);
      const list = byRepo.get(repo);
      if (list) list.push(op);
      else byRepo.set(repo, [op]);
    }
    await Promise.all(
      [...byRepo].map(async ([repo, list]) => {
        try {
          await deleteInRepository(ctx, repo, list);
        } catch (error) {
          if (mustStop(error, signal)) throw error;
          noteFailure(ctx, error);
          // The re-check could not run: nothing unchecked is deleted, and what these images point
          // at stays too (they are not gone, so later waves see them as remaining pointers).
          const reported = new Set(ctx.outcomes.map((o) => o.id));
          for (const op of list) {
            if (reported.has(op.image)) continue;
            report(ctx, {
              action: 'delete',
              id: op.image,
              status: 'failed',
              reason: `not deleted: ${(error as Error).message}`,
            });
          }
        }
      }),
    );
  }

  if (ctx.progressError) throw ctx.progressError.error;
  const remaining = plan.delete.filter((op) => !ctx.gone.has(op.image)).map((op) => op.image);
  const stillNeeded = new Set(remaining.flatMap((image) => graph.blobsOf(image).map((b) => b.id)));
  const reclaimableBytes = plan.blobs
    .filter((b) => !stillNeeded.has(b.id))
    .reduce((sum, b) => sum + (b.size ?? 0), 0);
  const result = finish(false, inPlanOrder(plan, ctx.outcomes), reclaimableBytes, client);
  if (journal) result.notes.push(...journal.notes);
  const notTried = ctx.outcomes.filter(
    (o) => o.reason === NOT_ATTEMPTED_STOPPED || o.reason === ctx.deadReason,
  ).length;
  if (notTried > 0) result.stopped = true;
  if (ctx.deadReason) {
    result.notes.push(
      `${ctx.deadReason}; ${notTried} operation${notTried === 1 ? ' was' : 's were'} not attempted. Run the same apply again when the registry is back (with the same journal, if one was kept).`,
    );
  }
  return result;
}

/**
 * Outcomes in the plan's order, whatever order the registry answered in, so that two runs diff
 * cleanly: untags as planned, then wave by wave the fallback-index rewrites (by id) before the
 * deletions (in plan order: wave, then id).
 */
function inPlanOrder(plan: CleanupPlan, outcomes: OperationOutcome[]): OperationOutcome[] {
  const untagAt = new Map(plan.untag.map((op, i) => [op.tag, i]));
  const deleteAt = new Map(plan.delete.map((op, i) => [op.image, i]));
  const waveOf = new Map(plan.delete.map((op) => [op.image, op.wave]));
  const waveOfDigest = new Map(
    plan.delete.map((op) => [op.image.replace('@sha256:', ':sha256-'), op.wave]),
  );
  const key = (o: OperationOutcome): [number, number, number, string] => {
    if (o.action === 'untag') return [-1, 0, untagAt.get(o.id) ?? 0, o.id];
    if (o.action === 'delete') return [waveOf.get(o.id) ?? 0, 1, deleteAt.get(o.id) ?? 0, o.id];
    // A rewrite goes with the wave of its subject's deletion, or else of the first wave.
    return [waveOfDigest.get(o.id) ?? 0, 0, 0, o.id];
  };
  return outcomes
    .map((o) => ({ o, k: key(o) }))
    .sort(
      (a, b) =>
        a.k[0] - b.k[0] ||
        a.k[1] - b.k[1] ||
        a.k[2] - b.k[2] ||
        (a.k[3] < b.k[3] ? -1 : a.k[3] > b.k[3] ? 1 : 0),
    )
    .map(({ o }) => o);
}

/**
 * Removes the plan's dangling tags (listed, manifest 404), repository by repository, one tag after
 * another: each is resolved again first, and one that points at a manifest now is left alone.
 */
async function removePlannedDanglingTags(ctx: Context): Promise<void> {
  const byRepo = new Map<string, string[]>();
  for (const tag of ctx.plan.danglingTags ?? []) {
    const repo = repositoryOfTag(tag);
    byRepo.set(repo, [...(byRepo.get(repo) ?? []), tagName(tag)]);
  }
  await Promise.all(
    [...byRepo].map(async ([repo, names]) => {
      if (ctx.stop?.aborted) {
        for (const name of names) notAttempted(ctx, 'untag', tagId(repo, name));
        return;
      }
      const listRequest = `GET /v2/${repo}/tags/list`;
      try {
        const listed = new Set(await ctx.client.listTags(repo, { signal: ctx.signal }));
        const cleanup = await removeDanglingTags(ctx.client, repo, names, listed, ctx.signal);
        const left = new Map(cleanup.leftAlone.map((l) => [l.tag, l.digest]));
        for (const name of names) {
          const digest = left.get(name);
          // Gone already (e.g. removed while an earlier run's leftovers were settled) is the goal.
          report(ctx, {
            action: 'untag',
            id: tagId(repo, name),
            status: digest ? 'skipped' : 'done',
            reason: cleanup.removed.includes(name)
              ? 'dangling tag (listed, its manifest answered 404): removed'
              : digest
                ? `changed since plan: the tag points at ${imageId(repo, digest)} now; left alone`
                : 'dangling tag: already gone (no longer listed)',
            requests: [listRequest, ...cleanup.requests],
          });
        }
      } catch (error) {
        if (mustStop(error, ctx.signal)) throw error;
        noteFailure(ctx, error);
        for (const name of names) {
          report(ctx, {
            action: 'untag',
            id: tagId(repo, name),
            status: 'failed',
            reason: `dangling tag not removed: ${(error as Error).message}`,
          });
        }
      }
    }),
  );
}

/** Reports an operation not started because the run was asked to stop, or the registry died. */
function notAttempted(ctx: Context, action: 'untag' | 'delete', id: string): void {
  report(ctx, { action, id, status: 'skipped', reason: ctx.deadReason ?? NOT_ATTEMPTED_STOPPED });
}

/**
 * Operations in a row that may fail because the registry cannot be reached (each after every
 * retry) before the run stops by itself: a registry that died must end the run in seconds, with
 * the rest "not attempted", not retry every remaining operation for minutes.
 */
const DEAD_AFTER = 3;

/** Counts a failed operation: enough unreachable failures in a row stop the run. */
function noteFailure(ctx: Context, error: unknown): void {
  if (!(error instanceof RegistryUnreachableError)) return;
  ctx.unreachable++;
  if (ctx.unreachable >= DEAD_AFTER && !ctx.dead.signal.aborted) {
    const cause = error.causeCode ? ` (${error.causeCode})` : '';
    ctx.deadReason = `not attempted: the registry stopped answering${cause} — ${DEAD_AFTER} operations in a row failed after every retry`;
    ctx.dead.abort();
  }
}

/** Errors that end the whole run rather than one operation. */
function mustStop(error: unknown, signal: AbortSignal | undefined): boolean {
  return (
    error instanceof DeleteDisabledError ||
    error instanceof JournalError ||
    error instanceof RateLimitError ||
    !!signal?.aborted
  );
}

const EARLIER_RUN = 'done by an earlier run (undo journal); not sent again';

function finish(
  dryRun: boolean,
  outcomes: OperationOutcome[],
  reclaimableBytes: number,
  client: RegistryClient,
): ApplyResult {
  const totals = { done: 0, skipped: 0, failed: 0, planned: 0 };
  for (const o of outcomes) totals[o.status]++;
  // distribution's garbage-collection advice is wrong on a hosted platform, which frees storage itself.
  const notes = [
    client.platform
      ? `Deleted through the ${client.platform.name} API (${client.platform.apiUrl}); the platform frees the storage itself.`
      : GC_NOTE,
  ];
  if (dryRun) notes.unshift('Dry run: nothing was sent; `requests` list what would be.');
  return { dryRun, outcomes, totals, reclaimableBytes, notes };
}

/** Tags the plan keeps on `image` (ids `repo:tag`), as the graph it was made from says. */
function keptTagsOn(ctx: Context, image: string): string[] {
  // Built once per run: untags call this each, and a plan may keep hundreds of thousands of tags.
  ctx.keptTagSet ??= new Set(ctx.plan.keptTags);
  const kept = ctx.keptTagSet;
  return ctx.graph.tagsOf(image).filter((t) => kept.has(t));
}

async function untagOne(ctx: Context, tag: string, image: string): Promise<void> {
  const repo = repositoryOfTag(tag);
  const name = tagName(tag);
  const journal = ctx.journal;
  if (journal?.finished.has(`untag ${tag}`)) {
    report(ctx, { action: 'untag', id: tag, status: 'done', reason: EARLIER_RUN });
    return;
  }
  if (ctx.stop?.aborted) return notAttempted(ctx, 'untag', tag);
  const interrupted = journal?.unfinished.get(`untag ${tag}`);
  // The manifest's bytes are needed for the undo journal, and until the registry's tag DELETE is
  // known to leave the manifest (see TagGuard): one GET by tag gives them and the digest.
  const needBytes = journal !== undefined || ctx.client.tagDeleteSupported === undefined;
  const requests = [
    needBytes
      ? `GET /v2/${repo}/manifests/${name} (its digest, and its bytes${journal ? ' for the undo journal' : ' in case the tag DELETE takes the manifest'})`
      : `HEAD /v2/${repo}/manifests/${name}`,
  ];
  try {
    const fetched = needBytes
      ? await ctx.client.getManifest(repo, name, { signal: ctx.signal })
      : undefined;
    const now = needBytes
      ? fetched?.digest
      : await ctx.client.resolve(repo, name, { signal: ctx.signal });
    if (interrupted && journal) {
      const finished = await finishInterruptedUntag(ctx, journal, interrupted, now, requests);
      if (finished) {
        report(ctx, { action: 'untag', id: tag, status: 'done', reason: finished, requests });
        return;
      }
    }
    if (now === undefined) {
      report(ctx, {
        action: 'untag',
        id: tag,
        status: 'skipped',
        reason: 'the tag no longer exists',
        requests,
      });
      return;
    }
    if (imageId(repo, now) !== image) {
      report(ctx, {
        action: 'untag',
        id: tag,
        status: 'skipped',
        reason: `changed since plan: the tag now points at ${imageId(repo, now)}, not ${image}`,
        requests,
      });
      return;
    }
    if (ctx.stop?.aborted) return notAttempted(ctx, 'untag', tag);
    const draft: IntentDraft | undefined =
      journal && fetched ? draftOf('untag', tag, repo, fetched, [name]) : undefined;
    const guard = fetched && {
      digest: fetched.digest,
      bytes: fetched.bytes,
      mediaType: mediaTypeOf(fetched),
      keep: keptTagsOn(ctx, image).map(tagName),
    };
    const removal = await journaled(journal, draft, () =>
      removeTag(ctx.client, repo, name, ctx.signal, guard),
    );
    report(ctx, {
      action: 'untag',
      id: tag,
      status: 'done',
      reason:
        removal.how === 'placeholder'
          ? 'the registry cannot delete tags: pushed a unique placeholder to the tag and deleted it by digest'
          : removal.how === 'already-gone'
            ? 'already gone'
            : removal.how === 'tag-delete-unsafe'
              ? `the registry deleted the image with the tag (its tag DELETE is unsafe): pushed ${image} back at once${removal.restored?.length ? ` with its kept tags ${removal.restored.join(', ')}` : ''}; later untags use a placeholder`
              : 'deleted the tag',
      requests: [...requests, ...removal.requests],
    });
  } catch (error) {
    if (mustStop(error, ctx.signal)) throw error;
    noteFailure(ctx, error);
    report(ctx, {
      action: 'untag',
      id: tag,
      status: 'failed',
      reason: (error as Error).message,
      requests,
    });
  }
}

/**
 * An untag an earlier run began but did not record as done: the tag is gone (it finished), or a
 * placeholder of ours sits on it (it stopped in between: delete the placeholder), or the tag is
 * still listed but points at nothing (the registry dropped the placeholder but not the tag, see
 * {@link removeTag}: push a new one). Returns the outcome's reason when it is finished now, else
 * `undefined` (untag as usual).
 */
async function finishInterruptedUntag(
  ctx: Context,
  journal: ApplyJournal,
  intent: JournalIntent,
  now: string | undefined,
  requests: string[],
): Promise<string | undefined> {
  const { repository } = intent;
  const name = tagName(intent.id);
  const signal = ctx.signal;
  if (now === undefined) {
    // A tag left pointing at nothing answers 404 like a removed one; only the tag list tells.
    requests.push(`GET /v2/${repository}/tags/list (once per repository)`);
    const listed = await listedTags(ctx, repository);
    if (!listed.has(name)) {
      await endEarlier(journal, intent);
      return 'finished by an interrupted earlier run (undo journal)';
    }
    const cleanup = await removeDanglingTags(ctx.client, repository, [name], listed, signal);
    requests.push(...cleanup.requests);
    // Pushed again since it was listed: someone else's tag now, left alone.
    if (cleanup.removed.length === 0) return undefined;
    await endEarlier(journal, intent);
    return 'an interrupted earlier run left the tag listed but pointing at nothing: removed it';
  }
  if (now === intent.digest) return undefined;
  const cleared = await removeOwnPlaceholder(ctx.client, repository, name, now, signal);
  requests.push(...cleared.requests);
  if (!cleared.removed) return undefined;
  await endEarlier(journal, intent);
  return 'an interrupted earlier run left its placeholder on the tag: deleted it';
}

/** The tags listed in `repository`, read once per run (only resumed untags ask). */
function listedTags(ctx: Context, repository: string): Promise<Set<string>> {
  let listed = ctx.listedTags.get(repository);
  if (!listed) {
    listed = ctx.client.listTags(repository, { signal: ctx.signal }).then((tags) => new Set(tags));
    ctx.listedTags.set(repository, listed);
  }
  return listed;
}

/** A planned deletion's manifest, fetched ahead of its DELETE. */
interface Prefetch {
  result: Promise<FetchedManifest | undefined>;
  /** Whether `result` has settled (awaiting it then sends nothing and waits for nothing). */
  settled: boolean;
}

/**
 * Starts fetching the manifests of `ops` (once each): a tag pushed onto one while it is deleted is
 * pushed back from these bytes, and fetching them only then would stretch the time between the
 * last tag read and the DELETE.
 */
function prefetch(
  ctx: Context,
  repo: string,
  ops: readonly DeleteOperation[],
  read: ReadonlyMap<string, FetchedManifest>,
): void {
  for (const op of ops) {
    if (ctx.bytes.has(op.image)) continue;
    const known = read.get(digestOfImage(op.image));
    if (known) {
      ctx.bytes.set(op.image, { result: Promise.resolve(known), settled: true });
      continue;
    }
    const entry: Prefetch = {
      result: ctx.client.getManifest(repo, digestOfImage(op.image), { signal: ctx.signal }),
      settled: false,
    };
    entry.result.then(
      () => {
        entry.settled = true;
      },
      () => {
        entry.settled = true;
      },
    );
    ctx.bytes.set(op.image, entry);
  }
}

/**
 * Adds to `ctx.saved` the planned deletions of `repo` that the tags in `added` (new since the
 * last read) reach, through every edge kind ({@link recheckPlan}); manifests the graph lacks are
 * loaded first. With `withOtherRepositories` (a repository's first read), the plan's kept tags
 * of other repositories count too.
 */
async function recheckAdded(
  ctx: Context,
  repo: string,
  added: ReadonlyArray<readonly [string, string]>,
  withOtherRepositories = false,
): Promise<void> {
  const { client, graph, plan } = ctx;
  if (added.length > 0) {
    const loader = new Loader(
      client,
      ctx.signal ?? new AbortController().signal,
      () => {},
      ctx.checkGraph ?? graph,
    );
    const data = loader.data(repo);
    for (const [tag, digest] of added) {
      data.tags.set(tag, digest);
      // Fallback indexes are not images; the apply step reads them itself when it must.
      if (classifyTag(tag).kind !== 'fallback') loader.want(repo, digest);
    }
    await loader.drain();
    // The graph changes only with a new image or attachment: copied once, the first time.
    if (data.manifests.size > 0 || added.some(([tag]) => classifyTag(tag).kind === 'cosign')) {
      ctx.checkGraph ??= graph.clone();
      buildGraph(loader, ctx.checkGraph);
    }
  }
  const modeled = (tag: string, image: string): boolean => {
    const kind = classifyTag(tagName(tag));
    if (kind.kind === 'plain') return false;
    if (kind.kind === 'fallback') return graph.hasImage(imageId(repo, kind.subject));
    if (!graph.hasImage(image)) return false;
    return graph.targetsOf(image, 'referrer').includes(imageId(repo, kind.subject));
  };
  const roots = recheckRoots(
    plan,
    added.map(([tag, digest]) => [tagId(repo, tag), imageId(repo, digest)] as const),
    modeled,
  );
  if (withOtherRepositories)
    for (const tag of plan.keptTags) {
      const target = graph.tagTarget(tag);
      if (repositoryOfTag(tag) !== repo && target) roots.push([tag, target]);
    }
  if (roots.length === 0) return;
  const { skip } = recheckPlan(
    ctx.checkGraph ?? graph,
    plan,
    roots,
    (image) => repositoryOfImage(image) === repo && !ctx.gone.has(image) && !ctx.saved.has(image),
  );
  for (const { op, reason } of skip) ctx.saved.set(op.image, reason);
}

/** The planned image pointing at `op`'s image that is still there (a pointer goes first). */
function pointerLeft(ctx: Context, op: DeleteOperation): string | undefined {
  const { graph } = ctx;
  return blockedByRemainingPointers(
    [op.image],
    (image) => [
      ...graph.sourcesOf(image, 'parent'),
      ...graph.sourcesOf(image, 'child'),
      ...graph.sourcesOf(image, 'referrer'),
    ],
    (pointer) => ctx.planned.has(pointer) && !ctx.gone.has(pointer),
  ).get(op.image);
}

/**
 * Deletes one wave's planned images of one repository, one small batch at a time, each batch
 * right after a read of the repository's tags ({@link TagWatch}): distribution's digest DELETE
 * also removes every tag on the digest, so a tag pushed after the last read would go with it.
 * After each batch the tags are read again: a tag seen before, not planned to go, that vanished
 * with the batch was pushed onto a deleted image meanwhile, and is pushed back at once.
 */
async function deleteInRepository(
  ctx: Context,
  repo: string,
  ops: DeleteOperation[],
): Promise<void> {
  if (ctx.tuning.recheck === false) return deleteUnchecked(ctx, repo, ops);
  let watch = ctx.watches.get(repo);
  if (!watch) {
    watch = new TagWatch(ctx.client, repo);
    ctx.watches.set(repo, watch);
  }
  // The last read was before other repositories' work of the previous wave: read again.
  watch.fresh = false;
  // The first read GETs every tag (rather than HEAD): that fetches most planned images' bytes too.
  const read = new Map<string, FetchedManifest>();
  if (watch.reads === 0) {
    const first = await watch.read(ctx.signal, read);
    await recheckAdded(ctx, repo, first.added, true);
    // Its list is as old as all its GETs took (seconds on a large repository): read again.
    watch.fresh = false;
  }
  prefetch(ctx, repo, ops, read);
  // Fallback indexes are rewritten for the whole wave first, as before any DELETE: their own
  // requests stay out of the time between a tag read and a DELETE.
  const unrewritten = await rewriteFallbackIndexes(
    ctx,
    repo,
    ops.filter((op) => !ctx.saved.has(op.image) && !pointerLeft(ctx, op)),
    watch,
  );
  const size = Math.max(1, ctx.tuning.batch ?? ctx.client.concurrency - 1);
  const pending = [...ops];
  const attempts = new Map<string, number>();
  while (pending.length > 0) {
    ctx.signal?.throwIfAborted();
    if (ctx.stop?.aborted) {
      // Asked to stop: the DELETEs already sent finished; none is started after them.
      for (const op of pending) notAttempted(ctx, 'delete', op.image);
      return;
    }
    const batch: DeleteOperation[] = [];
    while (pending.length > 0 && batch.length < size) {
      const op = pending.shift() as DeleteOperation;
      const saved = ctx.saved.get(op.image);
      if (saved) {
        report(ctx, { action: 'delete', id: op.image, status: 'skipped', reason: saved });
        continue;
      }
      const pointer = pointerLeft(ctx, op);
      if (pointer) {
        report(ctx, {
          action: 'delete',
          id: op.image,
          status: 'skipped',
          reason: `${pointer} points at it and was not deleted`,
        });
        continue;
      }
      batch.push(op);
    }
    if (batch.length === 0) break;
    pending.unshift(...(await deleteBatch(ctx, repo, watch, batch, attempts, unrewritten)));
  }
}

/** Deletes without any re-check (benchmarks measure the re-check's cost against this). */
async function deleteUnchecked(ctx: Context, repo: string, ops: DeleteOperation[]): Promise<void> {
  await Promise.all(
    ops.map(async (op) => {
      const requests = [`DELETE /v2/${repo}/manifests/${digestOfImage(op.image)}`];
      try {
        const result = await ctx.client.deleteManifest(repo, digestOfImage(op.image), {
          signal: ctx.signal,
        });
        ctx.gone.add(op.image);
        report(ctx, {
          action: 'delete',
          id: op.image,
          status: 'done',
          reason: result === 'missing' ? 'already gone (404)' : undefined,
          requests,
        });
      } catch (error) {
        deleteFailed(ctx, op, error, requests);
      }
    }),
  );
}

/** A delete that failed: a run-ending error is rethrown, any other is its outcome. */
function deleteFailed(ctx: Context, op: DeleteOperation, error: unknown, requests: string[]): void {
  if (mustStop(error, ctx.signal)) throw error;
  // The platform refused this one image (GitHub's 5,000-downloads rule): skipped, not failed;
  // what it needs stays, since it is not gone.
  const refused = error instanceof DeleteRefusedError;
  if (!refused) noteFailure(ctx, error);
  report(ctx, {
    action: 'delete',
    id: op.image,
    status: refused ? 'skipped' : 'failed',
    reason: (error as Error).message,
    requests,
  });
}

/** DELETE attempts per image that answer 400 DIGEST_INVALID (a PUT of it in progress). */
const DIGEST_INVALID_ATTEMPTS = 4;

/** One planned deletion on its way through {@link deleteBatch}. */
interface BatchItem {
  op: DeleteOperation;
  digest: string;
  fetched: FetchedManifest;
  requests: string[];
  settle: Settle;
  /** The DELETE answered 404 (gone without a clean 202). */
  missing: boolean;
  /** When its DELETE was answered (`performance.now()`): it untagged nothing listed after. */
  answeredAt?: number;
  /** Bare tags pushed back after they went with this image's DELETE. */
  restored: string[];
  /** Bare tags that went with it and could not be pushed back. */
  lost: string[];
  /** Notes for the outcome. */
  notes: string[];
}

/**
 * One batch: journal intents first, then a tag read unless nothing
 * was awaited since the last one, the DELETEs, and a tag read after them. Returns the operations
 * to send again (400 DIGEST_INVALID: someone is pushing that very manifest right now).
 */
async function deleteBatch(
  ctx: Context,
  repo: string,
  watch: TagWatch,
  batch: DeleteOperation[],
  attempts: Map<string, number>,
  unrewritten: ReadonlySet<string>,
): Promise<DeleteOperation[]> {
  const { client, graph } = ctx;
  const items: BatchItem[] = [];
  const goneUnclean: GoneUnclean[] = [];
  // Gone without a clean 202: the registry may have left its tags listed, pointing at nothing.
  const goneWithout202 = async (
    op: DeleteOperation,
    reason: string,
    requests: string[],
    settle: Settle,
  ) => {
    ctx.gone.add(op.image);
    if (op.tags.length > 0) {
      goneUnclean.push({ op, reason, requests, settle });
      return;
    }
    await settle('done');
    report(ctx, { action: 'delete', id: op.image, status: 'done', reason, requests });
  };
  const failed = (op: DeleteOperation, error: unknown, requests: string[]) =>
    deleteFailed(ctx, op, error, requests);

  for (const op of batch) {
    const digest = digestOfImage(op.image);
    const requests = [`GET /v2/${repo}/manifests/${digest} (its bytes, fetched ahead)`];
    const entry = ctx.bytes.get(op.image) as Prefetch;
    if (!entry.settled) watch.fresh = false;
    try {
      const fetched = await entry.result;
      if (!fetched) {
        // An interrupted earlier run's DELETE got through before its end was written:
        // record it (once its tags are checked), so that a later run does not check it again.
        const journal = ctx.journal;
        const interrupted = journal?.unfinished.get(`delete ${op.image}`);
        await goneWithout202(
          op,
          interrupted
            ? 'deleted by an interrupted earlier run (undo journal)'
            : 'already gone (404)',
          requests,
          async (status) => {
            if (journal && interrupted && status === 'done') await endEarlier(journal, interrupted);
          },
        );
        continue;
      }
      items.push({
        op,
        digest,
        fetched,
        requests,
        settle: async () => {},
        missing: false,
        restored: [],
        lost: [],
        notes: [],
      });
    } catch (error) {
      failed(op, error, requests);
    }
  }

  let ready: BatchItem[] = [];
  for (const item of items) {
    const stuck = [item.op.image, ...graph.targetsOf(item.op.image, 'referrer')].find((i) =>
      unrewritten.has(digestOfImage(i)),
    );
    if (stuck) {
      // Deleting it would leave a fallback index listing a manifest that is gone.
      report(ctx, {
        action: 'delete',
        id: item.op.image,
        status: 'skipped',
        reason: `the referrers fallback index of ${stuck} could not be updated first; run again`,
        requests: item.requests,
      });
      continue;
    }
    if (ctx.journal) {
      watch.fresh = false;
      try {
        item.settle = await beginIntent(
          ctx.journal,
          draftOf(
            'delete',
            item.op.image,
            repo,
            item.fetched,
            watch.tagsAt(item.digest),
            item.op.mediaType,
          ),
        );
      } catch (error) {
        failed(item.op, error, item.requests);
        continue;
      }
    }
    ready.push(item);
  }
  if (ready.length === 0) {
    if (goneUnclean.length > 0) await removeTagsLeftBehind(ctx, repo, goneUnclean);
    return [];
  }

  // The tag read right before the DELETEs: unless nothing was awaited since the last one.
  if (!watch.fresh) {
    try {
      const before = await watch.read(ctx.signal);
      for (const item of ready) item.requests.push(...before.requests);
      await recheckAdded(ctx, repo, before.added);
    } catch (error) {
      for (const item of ready) {
        await item.settle('failed').catch(() => {});
        failed(item.op, error, item.requests);
      }
      if (goneUnclean.length > 0) await removeTagsLeftBehind(ctx, repo, goneUnclean);
      return [];
    }
    const now: BatchItem[] = [];
    for (const item of ready) {
      const saved = ctx.saved.get(item.op.image);
      if (!saved) {
        now.push(item);
        continue;
      }
      await item.settle('failed');
      report(ctx, {
        action: 'delete',
        id: item.op.image,
        status: 'skipped',
        reason: saved,
        requests: item.requests,
      });
    }
    ready = now;
  } else {
    for (const item of ready)
      item.requests.push(`GET /v2/${repo}/tags/list (the read after the previous DELETE)`);
  }

  const again: DeleteOperation[] = [];
  const deleted: BatchItem[] = [];
  // Names known when the DELETE leaves. While a single DELETE is in flight the tags are listed
  // again and again (each list sent when the last one is answered): a new name pushed onto the
  // image after the read before the DELETE is listed there while the registry is still scanning
  // the tags (it scans every tag of the repository before it untags), and missing from the read
  // after. Such names are resolved at once, off the DELETE's path, for the read after it.
  const knownBefore = new Set([...watch.tags.keys(), ...watch.unresolved]);
  let inFlight = true;
  const seenDuring = new Set<string>();
  const early = new Map<string, Promise<Resolution>>();
  let polls = 0;
  // When the last list that showed each name was sent: a DELETE answered before that took no
  // tag with it that this list showed (it untags before it answers).
  const lastSeen = new Map<string, number>();
  const polling = (async () => {
    while (inFlight) {
      let names: string[];
      const sentAt = performance.now();
      try {
        names = await client.listTags(repo, { signal: ctx.signal });
      } catch {
        return;
      }
      polls++;
      for (const tag of names) lastSeen.set(tag, sentAt);
      for (const tag of names) {
        if (knownBefore.has(tag) || seenDuring.has(tag)) continue;
        seenDuring.add(tag);
        early.set(
          tag,
          lookupTag(client, repo, tag, ctx.signal).catch(() => undefined),
        );
      }
    }
  })();
  await Promise.all(
    ready.map(async (item) => {
      const { op, digest, requests } = item;
      requests.push(`DELETE /v2/${repo}/manifests/${digest}`);
      let result: Awaited<ReturnType<RegistryClient['deleteManifest']>>;
      try {
        result = await client.deleteManifest(repo, digest, { signal: ctx.signal });
      } catch (error) {
        await item.settle('failed').catch(() => {});
        if (
          error instanceof RegistryHttpError &&
          error.status === 400 &&
          error.registryCode === 'DIGEST_INVALID'
        ) {
          // distribution 2.8 answers this when a PUT of the same manifest is rewriting its
          // revision link: someone is pushing it right now. Nothing was deleted; read the tags
          // again (the push will show) and send it again if it is still to go.
          const n = (attempts.get(op.image) ?? 0) + 1;
          attempts.set(op.image, n);
          if (n < DIGEST_INVALID_ATTEMPTS) {
            again.push(op);
            return;
          }
        }
        failed(op, error, requests);
        return;
      }
      item.missing = result === 'missing';
      item.answeredAt = performance.now();
      ctx.gone.add(op.image);
      deleted.push(item);
    }),
  );
  // The read after the DELETE must be listed after every list counted as "during" it: a list
  // answered later could show a name pushed after the read after, not one that vanished.
  inFlight = false;
  await polling;
  watch.fresh = false;
  if (again.length > 0)
    await new Promise((r) => setTimeout(r, 20 * (attempts.get(again[0]?.image as string) ?? 1)));

  // The tag read after the DELETEs: did a tag go with them that was not planned to?
  if (deleted.length > 0) {
    try {
      const after = await watch.read(ctx.signal, undefined, {
        resolutions: early,
        changed: new Set(deleted.map((i) => i.digest)),
      });
      for (const item of deleted)
        item.requests.push(...after.requests.map((r) => `${r} (after the DELETE)`));
      // Names seen only while the DELETEs ran and gone after them: each goes back onto the image
      // it was resolved to; unresolved, onto the one image deleted (a digest DELETE is what
      // removes a tag), and with several deleted at once it is reported, not guessed.
      const vanishedNew: Array<[string, BatchItem]> = [];
      const movedNew: Array<[string, string]> = [];
      for (const item of deleted)
        if (polls > 0)
          item.requests.push(
            `GET /v2/${repo}/tags/list ×${polls} (while the DELETE was in flight)`,
          );
      // The DELETEs that can have taken a vanished name: those not answered before the last list
      // that showed it was sent.
      const candidatesOf = (tag: string) =>
        deleted.filter((i) => (i.answeredAt ?? 0) > (lastSeen.get(tag) ?? -1));
      for (const tag of seenDuring) {
        if (after.listed.has(tag)) continue;
        const resolution = await early.get(tag);
        const on = deleted.find((i) => i.digest === resolution?.digest);
        // Seen on another image while the DELETE ran: moved onto a deleted one since, or
        // removed by someone else; told apart like a known tag that vanished.
        if (on) vanishedNew.push([tag, on]);
        else if (resolution?.present) movedNew.push([tag, resolution.digest]);
        else {
          // Unresolved: it went with the one DELETE that can have taken it, if it untagged
          // anything (202); with several, it is reported, not guessed.
          const candidates = candidatesOf(tag);
          const single = candidates.length === 1 ? (candidates[0] as BatchItem) : undefined;
          if (single && !single.missing) vanishedNew.push([tag, single]);
          else if (candidates.length > 1)
            for (const item of candidates)
              item.notes.push(
                `${tagId(repo, tag)} (pushed while ${candidates.length} images were being deleted together) vanished before it could be resolved; which image it pointed at cannot be told: point it again`,
              );
        }
      }
      await restoreVanished(
        ctx,
        repo,
        watch,
        deleted,
        [...after.vanished, ...movedNew],
        vanishedNew,
        candidatesOf,
      );
      // A name pushed while the DELETE unlinked the image but written after its tag scan is left
      // listed, pointing at the deleted image (the registry names it): pushed back too.
      for (const [tag, digest] of after.dangling) {
        const item = deleted.find((i) => i.digest === digest);
        if (item && (await pushBack(ctx, repo, watch, item, tag)))
          await recheckAdded(ctx, repo, [[tag, digest]]);
      }
      await recheckAdded(ctx, repo, after.added);
      for (const [tag, digest] of after.added) {
        // Pushed again after its DELETE: it is there again, so what it needs must stay too.
        const item = deleted.find((i) => i.digest === digest);
        if (item) {
          ctx.gone.delete(item.op.image);
          item.notes.push(`${tagId(repo, tag)} pushed it again after its DELETE`);
        }
      }
    } catch (error) {
      if (mustStop(error, ctx.signal)) throw error;
      noteFailure(ctx, error);
      for (const item of deleted)
        item.notes.push(
          `whether a tag pushed onto it meanwhile went with it could not be checked: ${(error as Error).message}`,
        );
    }
  }
  for (const item of deleted) {
    const { op, requests } = item;
    if (item.restored.length > 0 || item.lost.length > 0) {
      await item.settle('done');
      const lost = item.lost.length > 0;
      report(ctx, {
        action: 'delete',
        id: op.image,
        status: lost ? 'failed' : 'skipped',
        reason: [...restoredNotes(repo, item), ...item.notes].join('; '),
        requests,
        ...(item.restored.length > 0 ? { restored: item.restored.map((t) => tagId(repo, t)) } : {}),
      });
      continue;
    }
    if (item.missing) {
      await goneWithout202(
        op,
        ['already gone (404)', ...item.notes].join('; '),
        requests,
        item.settle,
      );
      continue;
    }
    await item.settle('done');
    const notes = [
      ...(op.tags.length > 0 ? [`its tags ${op.tags.join(', ')} went with it`] : []),
      ...item.notes,
    ];
    report(ctx, {
      action: 'delete',
      id: op.image,
      status: 'done',
      reason: notes.length > 0 ? notes.join('; ') : undefined,
      requests,
    });
  }
  if (goneUnclean.length > 0) await removeTagsLeftBehind(ctx, repo, goneUnclean);
  return again;
}

/** The start of the reason of a deletion that tags went with against the plan. */
function restoredNotes(repo: string, item: BatchItem): string[] {
  const notes: string[] = [];
  if (item.restored.length > 0)
    notes.push(
      `restored after concurrent push: ${item.restored.map((t) => tagId(repo, t)).join(', ')} was pushed onto it while it was being deleted and went with it; pushed it back under that tag (${item.op.image} is there again; its tags in the plan stay removed)`,
    );
  if (item.lost.length > 0)
    notes.push(
      `${item.lost.map((t) => tagId(repo, t)).join(', ')} was pushed onto it while it was being deleted and went with it, and could not be pushed back: push it again`,
    );
  return notes;
}

/**
 * After a batch of DELETEs: tags of the last read, not planned to go, that are no longer listed.
 * distribution's digest DELETE removes every tag on the digest, so such a tag was moved onto a
 * deleted image after it was last resolved, and went with it. With one image in the batch it is
 * pushed straight back from the bytes in hand (blobs stay until the registry's GC); with several,
 * which one it pointed at cannot be told, and it is reported. A tag whose own image someone else
 * deleted meanwhile is not one of these (its image answers 404): left alone.
 */
async function restoreVanished(
  ctx: Context,
  repo: string,
  watch: TagWatch,
  deleted: BatchItem[],
  vanished: ReadonlyArray<readonly [string, string]>,
  vanishedNew: ReadonlyArray<readonly [string, BatchItem]> = [],
  candidatesOf: (tag: string) => BatchItem[] = () => deleted,
): Promise<void> {
  const digests = new Set(deleted.map((i) => i.digest));
  const back: Array<[string, string]> = [];
  for (const [tag, item] of vanishedNew) {
    // Pushed after the read before the DELETE, gone after it: it pointed at this deleted image.
    if (await pushBack(ctx, repo, watch, item, tag)) back.push([tag, item.digest]);
  }
  for (const [tag, last] of vanished) {
    // Went with its image, as planned (the re-check let it), or with one deleted earlier.
    if (digests.has(last) || ctx.gone.has(imageId(repo, last))) continue;
    // Listed after every DELETE of the batch was answered: someone else removed it.
    const candidates = candidatesOf(tag);
    if (candidates.length === 0) continue;
    if (candidates.length > 1) {
      for (const item of candidates)
        item.notes.push(
          `${tagId(repo, tag)} vanished with one of the ${candidates.length} images deleted together with this one; which one it pointed at cannot be told: point it again`,
        );
      continue;
    }
    const item = candidates[0] as BatchItem;
    item.requests.push(
      `HEAD /v2/${repo}/manifests/${last} (is what ${tag} pointed at still there?)`,
    );
    let there: boolean;
    try {
      there = (await ctx.client.resolve(repo, last, { signal: ctx.signal })) !== undefined;
    } catch (error) {
      if (mustStop(error, ctx.signal)) throw error;
      noteFailure(ctx, error);
      item.lost.push(tag);
      item.notes.push((error as Error).message);
      continue;
    }
    if (there && (await pushBack(ctx, repo, watch, item, tag))) back.push([tag, item.digest]);
  }
  // What a pushed-back tag reaches stays too.
  if (back.length > 0) await recheckAdded(ctx, repo, back);
}

/**
 * Pushes `tag` back onto the deleted image `item` from the bytes in hand (its blobs stay until
 * the registry's GC); the image counts as there again. False when the push failed (recorded).
 */
async function pushBack(
  ctx: Context,
  repo: string,
  watch: TagWatch,
  item: BatchItem,
  tag: string,
): Promise<boolean> {
  try {
    item.requests.push(`PUT /v2/${repo}/manifests/${tag} (pushed back)`);
    await ctx.client.putManifest(
      repo,
      tag,
      item.fetched.bytes,
      mediaTypeOf(item.fetched, item.op.mediaType),
      { signal: ctx.signal },
    );
  } catch (error) {
    if (mustStop(error, ctx.signal)) throw error;
    noteFailure(ctx, error);
    item.lost.push(tag);
    item.notes.push((error as Error).message);
    return false;
  }
  watch.tags.set(tag, item.digest);
  item.restored.push(tag);
  ctx.gone.delete(item.op.image);
  return true;
}

/** A planned image with tags that went without a clean 202: its tags are checked afterwards. */
interface GoneUnclean {
  op: DeleteOperation;
  /** How it went (the start of the outcome's reason). */
  reason: string;
  requests: string[];
  settle: Settle;
}

/**
 * For planned images found gone without a clean 202 (the retried DELETE answered 404, or it was
 * gone before it): distribution 2.8 unlinks a manifest before it drops the tags on it, and a tag
 * write racing its tag scan makes it fail in between, leaving those tags listed but pointing at
 * nothing. The tag list is read once, after all of this repository's deletes of the wave (a list
 * read before them would still show the tags every deleted image had), and each image's planned
 * tags still listed are removed where they answer 404 ({@link removeDanglingTags}); a tag pushed
 * again since is left alone.
 */
async function removeTagsLeftBehind(
  ctx: Context,
  repo: string,
  goneUnclean: GoneUnclean[],
): Promise<void> {
  const listRequest = `GET /v2/${repo}/tags/list (once, after the deletes: are their tags left listed?)`;
  let listed: Set<string>;
  try {
    listed = new Set(await ctx.client.listTags(repo, { signal: ctx.signal }));
  } catch (error) {
    if (mustStop(error, ctx.signal)) throw error;
    noteFailure(ctx, error);
    for (const gone of goneUnclean) {
      await gone.settle('failed').catch(() => {});
      report(ctx, {
        action: 'delete',
        id: gone.op.image,
        status: 'failed',
        reason: `${gone.reason}, but whether its tags ${gone.op.tags.join(', ')} are left listed pointing at nothing could not be checked: ${(error as Error).message}; run again`,
        requests: [...gone.requests, listRequest],
      });
    }
    return;
  }
  // One after another: concurrent placeholder pushes are what trips the registry up.
  for (const gone of goneUnclean) {
    const requests = [...gone.requests, listRequest];
    const names = gone.op.tags.filter((t) => repositoryOfTag(t) === repo).map(tagName);
    try {
      const cleanup = await removeDanglingTags(ctx.client, repo, names, listed, ctx.signal);
      requests.push(...cleanup.requests);
      await gone.settle('done');
      const notes = [gone.reason];
      if (cleanup.removed.length > 0)
        notes.push(
          `its tags ${cleanup.removed.map((t) => tagId(repo, t)).join(', ')} were left listed pointing at nothing (the registry failed between unlinking it and dropping its tags): removed them`,
        );
      for (const { tag, digest } of cleanup.leftAlone)
        notes.push(`${tagId(repo, tag)} now points at ${imageId(repo, digest)}: left alone`);
      report(ctx, {
        action: 'delete',
        id: gone.op.image,
        status: 'done',
        reason: notes.join('; '),
        requests,
      });
    } catch (error) {
      if (mustStop(error, ctx.signal)) throw error;
      noteFailure(ctx, error);
      await gone.settle('failed').catch(() => {});
      report(ctx, {
        action: 'delete',
        id: gone.op.image,
        status: 'failed',
        reason: `${gone.reason}, but removing its tags left listed pointing at nothing failed: ${(error as Error).message}; run again`,
        requests,
      });
    }
  }
}

/**
 * Before referrers go, the fallback index of each affected subject is rewritten without them (or
 * removed when nothing stays, or when the subject itself goes now).
 * @returns subjects (digests) whose fallback index could not be updated: their referrers, and
 *   they themselves, must not be deleted now.
 */
async function rewriteFallbackIndexes(
  ctx: Context,
  repo: string,
  proceed: DeleteOperation[],
  watch: TagWatch,
): Promise<Set<string>> {
  const unrewritten = new Set<string>();
  const { client, graph } = ctx;
  const deleting = new Set(proceed.map((op) => digestOfImage(op.image)));
  const subjects = new Set<string>();
  for (const op of proceed) {
    subjects.add(digestOfImage(op.image));
    for (const subject of graph.targetsOf(op.image, 'referrer'))
      subjects.add(digestOfImage(subject));
  }
  const goneHere = new Set(
    [...ctx.gone].filter((i) => repositoryOfImage(i) === repo).map(digestOfImage),
  );
  for (const subject of [...subjects].sort()) {
    const tag = fallbackTagOf(subject);
    const indexDigest = watch.tags.get(tag);
    if (!indexDigest) continue;
    watch.fresh = false;
    const id = tagId(repo, tag);
    const requests = [`GET /v2/${repo}/manifests/${tag}`];
    try {
      const fetched = await client.getManifest(repo, tag, { signal: ctx.signal });
      if (!fetched) continue;
      const entries =
        (JSON.parse(new TextDecoder().decode(fetched.bytes)) as { manifests?: Descriptor[] })
          .manifests ?? [];
      const decision = fallbackIndexAfterDeletes(
        entries,
        new Set([...goneHere, ...deleting]),
        deleting.has(subject),
      );
      if (decision.action === 'keep') continue;
      const sharedWith = watch.tagsAt(fetched.digest).filter((t) => t !== tag);
      const draft = ctx.journal
        ? draftOf('rewrite', id, repo, fetched, [tag, ...sharedWith], OCI_INDEX)
        : undefined;
      if (decision.action === 'rewrite') {
        const bytes = new TextEncoder().encode(
          JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: decision.manifests }),
        );
        if (draft) draft.replacement = digestOf(bytes);
        await journaled(ctx.journal, draft, async () => {
          requests.push(`PUT /v2/${repo}/manifests/${tag}`);
          await client.putManifest(repo, tag, bytes, OCI_INDEX, { signal: ctx.signal });
          if (sharedWith.length === 0) {
            requests.push(`DELETE /v2/${repo}/manifests/${fetched.digest}`);
            await client.deleteManifest(repo, fetched.digest, { signal: ctx.signal });
          }
        });
        // Our own change to the tag: the read after the DELETEs must not take it for someone else's.
        watch.tags.set(tag, digestOf(bytes));
        report(ctx, {
          action: 'rewrite',
          id,
          status: 'done',
          reason: `referrers fallback index rewritten without ${entries.length - decision.manifests.length} deleted referrer(s)`,
          requests,
        });
      } else {
        await journaled(ctx.journal, draft, async () => {
          if (sharedWith.length === 0) {
            requests.push(`DELETE /v2/${repo}/manifests/${fetched.digest}`);
            await client.deleteManifest(repo, fetched.digest, { signal: ctx.signal });
          } else {
            requests.push(...(await removeTag(client, repo, tag, ctx.signal)).requests);
          }
        });
        watch.tags.delete(tag);
        report(ctx, {
          action: 'rewrite',
          id,
          status: 'done',
          reason: deleting.has(subject)
            ? 'referrers fallback tag removed with its subject'
            : 'referrers fallback tag removed: no referrers left',
          requests,
        });
      }
    } catch (error) {
      if (mustStop(error, ctx.signal)) throw error;
      noteFailure(ctx, error);
      unrewritten.add(subject);
      report(ctx, {
        action: 'rewrite',
        id,
        status: 'failed',
        reason: (error as Error).message,
        requests,
      });
    }
  }
  return unrewritten;
}

function dryRunResult(
  plan: CleanupPlan,
  repositories: string[],
  options: RegistryApplyOptions,
  client: RegistryClient,
): ApplyResult {
  const outcomes: OperationOutcome[] = [];
  const referrerSubjects = new Set<string>();
  for (const op of plan.delete) {
    for (const subject of options.graph?.targetsOf(op.image, 'referrer') ?? [])
      referrerSubjects.add(subject);
  }
  const total =
    plan.untag.length +
    plan.delete.length +
    referrerSubjects.size +
    (plan.danglingTags?.length ?? 0);
  const push = (outcome: OperationOutcome) => {
    outcomes.push(outcome);
    options.onProgress?.({ done: outcomes.length, total, outcome });
  };
  const probes = repositories.map(
    (r) => `DELETE /v2/${r}/manifests/sha256:${'0'.repeat(64)} (probe: 404 means deletes work)`,
  );
  for (const op of plan.untag) {
    const repo = repositoryOfTag(op.tag);
    const name = tagName(op.tag);
    push({
      action: 'untag',
      id: op.tag,
      status: 'planned',
      reason: `${op.image} stays`,
      requests: [
        `HEAD /v2/${repo}/manifests/${name}`,
        `DELETE /v2/${repo}/manifests/${name}`,
        `or, where tags cannot be deleted: HEAD /v2/${repo}/blobs/sha256:44136fa… + PUT /v2/${repo}/manifests/${name} (unique placeholder) + DELETE /v2/${repo}/manifests/<placeholder digest>`,
      ],
    });
  }
  for (const tag of plan.danglingTags ?? []) {
    const repo = repositoryOfTag(tag);
    const name = tagName(tag);
    push({
      action: 'untag',
      id: tag,
      status: 'planned',
      reason:
        'dangling tag (listed, its manifest answers 404): removed unless it points at a manifest again by then',
      requests: [
        `GET /v2/${repo}/tags/list`,
        `HEAD /v2/${repo}/manifests/${name} (still 404?)`,
        `DELETE /v2/${repo}/manifests/${name}, or where tags cannot be deleted: a unique placeholder pushed to the tag and deleted by digest`,
      ],
    });
  }
  for (const op of plan.delete) {
    const repo = repositoryOfImage(op.image);
    push({
      action: 'delete',
      id: op.image,
      status: 'planned',
      reason: `wave ${op.wave}${op.tags.length > 0 ? `; its tags ${op.tags.join(', ')} go with it` : ''}`,
      requests: [
        `GET /v2/${repo}/manifests/${digestOfImage(op.image)} (its bytes, unless the first tag read fetched them: to push back a tag that goes with it unplanned)`,
        `GET /v2/${repo}/tags/list right before the DELETE (one round trip before it), with HEAD /v2/${repo}/manifests/<tag> only for tags not seen before (on the repository's first read: GET /v2/${repo}/manifests/<tag> for every tag)`,
        `DELETE /v2/${repo}/manifests/${digestOfImage(op.image)}`,
        `GET /v2/${repo}/tags/list right after the DELETE (it is the read before the next one), and one sent along with the DELETE; a tag seen before (or listed along with the DELETE) and not planned to go that vanished with it: PUT /v2/${repo}/manifests/<tag> with its bytes`,
        ...(op.tags.length > 0
          ? [
              `if it is gone without a clean 202 (the registry failed after unlinking it, or it was gone already): GET /v2/${repo}/tags/list, then for each of ${op.tags.map(tagName).join(', ')} still listed: HEAD /v2/${repo}/manifests/<tag> and, where it answers 404, remove the tag as an untag does`,
            ]
          : []),
      ],
    });
  }
  for (const subject of [...referrerSubjects].sort()) {
    const repo = repositoryOfImage(subject);
    const tag = fallbackTagOf(digestOfImage(subject));
    push({
      action: 'rewrite',
      id: tagId(repo, tag),
      status: 'planned',
      reason:
        'if this referrers fallback tag exists: rewritten without the deleted referrers, or removed when empty',
      requests: [
        `GET /v2/${repo}/manifests/${tag}`,
        `PUT /v2/${repo}/manifests/${tag}`,
        `DELETE /v2/${repo}/manifests/<old index digest>`,
      ],
    });
  }
  if (outcomes[0]) outcomes[0].requests = [...probes, ...(outcomes[0].requests ?? [])];
  return finish(true, outcomes, plan.reclaimableBytes, client);
}
