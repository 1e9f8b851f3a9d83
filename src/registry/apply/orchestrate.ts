/** The run as a whole: checks of the plan, the probe, the journal, untags, then the waves of deletes, and the result. */
import { PlanMismatchError } from '../../core/errors/plan-mismatch-error.js';
import { PlanRefusedError } from '../../core/errors/plan-refused-error.js';
import type { ImageGraph } from '../../core/image-graph.js';
import { digestOfImage, repositoryOfImage, repositoryOfTag, tagName } from '../../core/naming.js';
import { assertPlanShape, checkPlanTarget } from '../../core/plan-file.js';
import type { CleanupPlan, DeleteOperation } from '../../core/plan-types.js';
import { type ApplyOptions, type ApplyResult, NOT_ATTEMPTED_STOPPED } from '../../core/target.js';
import type { RegistryClient } from '../client.js';
import type { JournalKey } from '../journal.js';
import { loadGraph } from '../load-graph.js';
import { platformDryRun } from '../platform/dry-run.js';
import { checkDigest, checkRepository, checkTag } from '../reference.js';
import {
  type ApplyTuning,
  type Context,
  doneEarlier,
  mustStop,
  notAttempted,
  noteFailure,
  report,
} from './context.js';
import { deleteInRepository } from './delete.js';
import { dryRunResult } from './dry-run.js';
import { openApplyJournal } from './journal-open.js';
import { finishInterruptedRewrites } from './journal-rewrites.js';
import { confirmFinished, settleEarlierRuns } from './journal-settle.js';
import { finish, inPlanOrder } from './result.js';
import { removePlannedDanglingTags, untagOne } from './untag.js';

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

export function validate(plan: CleanupPlan): void {
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

/**
 * Carries out a plan on the registry: untags (tag DELETE, or a unique placeholder pushed to the
 * tag and deleted by digest), then deletes wave by wave with bounded concurrency — never X while
 * something pointing at X is still there. Before the first change it probes every repository
 * involved, so a registry with deletes disabled (405) or a refused `delete` scope stops with
 * nothing touched. Right before each DELETE (a few of a repository in flight at once:
 * `(concurrency - 1) / 2` of the client's) it waits for a new list of the repository's tags (resolving
 * only names not seen before) and asks the core which deletions a current tag now reaches
 * ({@link recheckPlan}); those are skipped as "changed since plan". After each DELETE it lists
 * the tags again; a tag not planned to go that vanished with a DELETE is pushed back from the
 * bytes of the image it was on: the outcome is `skipped`, with `restored` (when which of several
 * images it was on cannot be told, it is reported instead). Referrers fallback indexes are
 * rewritten without deleted
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
    const result = dryRunResult(plan, repositories, options, client, tuning);
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
      lastUnreachableAt: Number.NEGATIVE_INFINITY,
      counted: new WeakSet(),
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

export async function applyWaves(ctx: Context, repositories: string[]): Promise<ApplyResult> {
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
      doneEarlier(ctx, 'delete', op.image);
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
    (o) =>
      o.reason === NOT_ATTEMPTED_STOPPED ||
      (ctx.deadReason !== undefined && o.reason === ctx.deadReason),
  ).length;
  if (notTried > 0) result.stopped = true;
  if (ctx.deadReason) {
    result.notes.push(
      `${ctx.deadReason}; ${notTried} operation${notTried === 1 ? ' was' : 's were'} not attempted. Run the same apply again when the registry is back (with the same journal, if one was kept).`,
    );
  }
  return result;
}
