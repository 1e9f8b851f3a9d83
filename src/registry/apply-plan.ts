import {
  blockedByRemainingPointers,
  classifyTag,
  fallbackIndexAfterDeletes,
  recheckRoots,
} from '../core/attachments.js';
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
import { checkPlanTarget } from '../core/plan-file.js';
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
  openApplyJournal,
  type Settle,
  settleEarlierRuns,
} from './apply-journal.js';
import { buildGraph } from './build-graph.js';
import type { RegistryClient } from './client.js';
import { removeDanglingTags } from './dangling-tags.js';
import { digestOf } from './digest.js';
import { DeleteDisabledError } from './errors/delete-disabled-error.js';
import { JournalError } from './errors/journal-error.js';
import type { JournalIntent, JournalKey } from './journal.js';
import { loadGraph } from './load-graph.js';
import { Loader } from './loader.js';
import type { Descriptor } from './manifest.js';
import { OCI_INDEX } from './media-types.js';
import { checkDigest, checkRepository, checkTag } from './reference.js';
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
  /** {@link ApplyOptions.stop}: no operation starts once it fired. */
  stop: AbortSignal | undefined;
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
}

function report(ctx: Context, outcome: OperationOutcome): void {
  ctx.outcomes.push(outcome);
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
 * nothing touched. Before each repository's deletes in each wave it re-reads that repository's
 * tags and asks the core which deletions a current tag now reaches ({@link recheckPlan}); those
 * are skipped as "changed since plan". Referrers fallback indexes are rewritten without deleted
 * referrers (their tag removed when empty) before the referrers go. An image found gone without a
 * clean 202 (distribution 2.8 can fail after unlinking it, before dropping its tags) has those of
 * its planned tags that are still listed but answer 404 removed; a tag pushed again is left alone.
 *
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
  if (dryRun) return dryRunResult(plan, repositories, options);
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
    const ctx: Context = {
      client,
      plan,
      graph,
      signal,
      stop: options.stop,
      outcomes: [],
      total: plan.untag.length + plan.delete.length,
      onProgress: options.onProgress,
      gone: new Set(),
      journal,
      listedTags: new Map(),
      progressError: undefined,
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
  const result = finish(false, ctx.outcomes, reclaimableBytes);
  if (journal) result.notes.push(...journal.notes);
  if (ctx.outcomes.some((o) => o.reason === NOT_ATTEMPTED_STOPPED)) result.stopped = true;
  return result;
}

/** Reports an operation not started because the run was asked to stop. */
function notAttempted(ctx: Context, action: 'untag' | 'delete', id: string): void {
  report(ctx, { action, id, status: 'skipped', reason: NOT_ATTEMPTED_STOPPED });
}

/** Errors that end the whole run rather than one operation. */
function mustStop(error: unknown, signal: AbortSignal | undefined): boolean {
  return error instanceof DeleteDisabledError || error instanceof JournalError || !!signal?.aborted;
}

const EARLIER_RUN = 'done by an earlier run (undo journal); not sent again';

function finish(
  dryRun: boolean,
  outcomes: OperationOutcome[],
  reclaimableBytes: number,
): ApplyResult {
  const totals = { done: 0, skipped: 0, failed: 0, planned: 0 };
  for (const o of outcomes) totals[o.status]++;
  const notes = [GC_NOTE];
  if (dryRun) notes.unshift('Dry run: nothing was sent; `requests` list what would be.');
  return { dryRun, outcomes, totals, reclaimableBytes, notes };
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
  // With a journal the manifest's bytes are needed too: one GET by tag gives them and the digest.
  const requests = [
    journal
      ? `GET /v2/${repo}/manifests/${name} (its digest, and its bytes for the undo journal)`
      : `HEAD /v2/${repo}/manifests/${name}`,
  ];
  try {
    const fetched = journal
      ? await ctx.client.getManifest(repo, name, { signal: ctx.signal })
      : undefined;
    const now = journal
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
    const removal = await journaled(journal, draft, () =>
      removeTag(ctx.client, repo, name, ctx.signal),
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
            : 'deleted the tag',
      requests: [...requests, ...removal.requests],
    });
  } catch (error) {
    if (mustStop(error, ctx.signal)) throw error;
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

async function deleteInRepository(
  ctx: Context,
  repo: string,
  ops: DeleteOperation[],
): Promise<void> {
  const { client, graph, plan } = ctx;
  // Re-read the repository as it is now; load what the graph has not seen.
  const loader = new Loader(client, ctx.signal ?? new AbortController().signal, () => {}, graph);
  await loader.readTags(repo, true);
  await loader.drain();
  const current = loader.data(repo);
  // Which tags point at each digest, built once: the journal and fallback rewrites ask per digest.
  const tagsAt = new Map<string, string[]>();
  for (const [tag, digest] of current.tags) {
    const list = tagsAt.get(digest);
    if (list) list.push(tag);
    else tagsAt.set(digest, [tag]);
  }
  const checkGraph = buildGraph(loader, graph.clone());
  const currentTags: Array<[string, string]> = [...current.tags].map(([t, d]) => [
    tagId(repo, t),
    imageId(repo, d),
  ]);
  const modeled = (tag: string, image: string): boolean => {
    const kind = classifyTag(tagName(tag));
    if (kind.kind === 'plain') return false;
    if (kind.kind === 'fallback') return graph.hasImage(imageId(repo, kind.subject));
    if (!graph.hasImage(image)) return false;
    return graph.targetsOf(image, 'referrer').includes(imageId(repo, kind.subject));
  };
  const roots = recheckRoots(plan, currentTags, modeled);
  for (const tag of plan.keptTags) {
    const target = graph.tagTarget(tag);
    if (repositoryOfTag(tag) !== repo && target) roots.push([tag, target]);
  }
  const mine = new Set(ops.map((op) => op.image));
  const recheck = recheckPlan(checkGraph, plan, roots, (image) => mine.has(image));
  const listRequests = [
    `GET /v2/${repo}/tags/list`,
    `HEAD /v2/${repo}/manifests/<tag> for each of ${current.tags.size} tags`,
  ];
  for (const { op, reason } of recheck.skip) {
    report(ctx, {
      action: 'delete',
      id: op.image,
      status: 'skipped',
      reason,
      requests: listRequests,
    });
  }
  const candidates = recheck.proceed.filter((op) => mine.has(op.image));
  const planned = new Set(plan.delete.map((op) => op.image));
  const blocked = blockedByRemainingPointers(
    candidates.map((op) => op.image),
    (image) => [
      ...graph.sourcesOf(image, 'parent'),
      ...graph.sourcesOf(image, 'child'),
      ...graph.sourcesOf(image, 'referrer'),
    ],
    (pointer) => planned.has(pointer) && !ctx.gone.has(pointer),
  );
  const proceed: DeleteOperation[] = [];
  for (const op of candidates) {
    const pointer = blocked.get(op.image);
    if (pointer) {
      report(ctx, {
        action: 'delete',
        id: op.image,
        status: 'skipped',
        reason: `${pointer} points at it and was not deleted`,
      });
    } else proceed.push(op);
  }
  if (proceed.length === 0) return;
  const unrewritten = await rewriteFallbackIndexes(ctx, repo, proceed, current.tags, tagsAt);
  const goneUnclean: GoneUnclean[] = [];
  await Promise.all(
    proceed.map(async (op) => {
      const digest = digestOfImage(op.image);
      const stuck = [op.image, ...graph.targetsOf(op.image, 'referrer')].find((i) =>
        unrewritten.has(digestOfImage(i)),
      );
      if (stuck) {
        // Deleting it would leave a fallback index listing a manifest that is gone.
        report(ctx, {
          action: 'delete',
          id: op.image,
          status: 'skipped',
          reason: `the referrers fallback index of ${stuck} could not be updated first; run again`,
          requests: listRequests,
        });
        return;
      }
      if (ctx.stop?.aborted) return notAttempted(ctx, 'delete', op.image);
      const requests = [...listRequests];
      // Gone without a clean 202: the registry may have left its tags listed, pointing at nothing.
      const goneWithout202 = async (reason: string, settle: Settle) => {
        ctx.gone.add(op.image);
        if (op.tags.length > 0) {
          goneUnclean.push({ op, reason, requests, settle });
          return;
        }
        await settle('done');
        report(ctx, { action: 'delete', id: op.image, status: 'done', reason, requests });
      };
      try {
        let draft: IntentDraft | undefined;
        if (ctx.journal) {
          const journal = ctx.journal;
          requests.push(`GET /v2/${repo}/manifests/${digest} (for the undo journal)`);
          const fetched = await client.getManifest(repo, digest, { signal: ctx.signal });
          if (!fetched) {
            // An interrupted earlier run's DELETE got through before its end was written:
            // record it (once its tags are checked), so that a later run does not check it again.
            const interrupted = journal.unfinished.get(`delete ${op.image}`);
            await goneWithout202(
              interrupted
                ? 'deleted by an interrupted earlier run (undo journal)'
                : 'already gone (404)',
              async (status) => {
                if (interrupted && status === 'done') await endEarlier(journal, interrupted);
              },
            );
            return;
          }
          const tags = [...(tagsAt.get(digest) ?? [])];
          draft = draftOf('delete', op.image, repo, fetched, tags, op.mediaType);
        }
        if (ctx.stop?.aborted) return notAttempted(ctx, 'delete', op.image);
        requests.push(`DELETE /v2/${repo}/manifests/${digest}`);
        const settle = await beginIntent(ctx.journal, draft);
        let result: Awaited<ReturnType<RegistryClient['deleteManifest']>>;
        try {
          result = await client.deleteManifest(repo, digest, { signal: ctx.signal });
        } catch (error) {
          await settle('failed').catch(() => {});
          throw error;
        }
        if (result === 'missing') {
          await goneWithout202('already gone (404)', settle);
          return;
        }
        await settle('done');
        ctx.gone.add(op.image);
        report(ctx, {
          action: 'delete',
          id: op.image,
          status: 'done',
          reason: op.tags.length > 0 ? `its tags ${op.tags.join(', ')} went with it` : undefined,
          requests,
        });
      } catch (error) {
        if (mustStop(error, ctx.signal)) throw error;
        report(ctx, {
          action: 'delete',
          id: op.image,
          status: 'failed',
          reason: (error as Error).message,
          requests,
        });
      }
    }),
  );
  if (goneUnclean.length > 0) await removeTagsLeftBehind(ctx, repo, goneUnclean);
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
  currentTags: Map<string, string>,
  tagsAt: ReadonlyMap<string, readonly string[]>,
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
    const indexDigest = currentTags.get(tag);
    if (!indexDigest) continue;
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
      const sharedWith = (tagsAt.get(fetched.digest) ?? []).filter((t) => t !== tag);
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
): ApplyResult {
  const outcomes: OperationOutcome[] = [];
  const referrerSubjects = new Set<string>();
  for (const op of plan.delete) {
    for (const subject of options.graph?.targetsOf(op.image, 'referrer') ?? [])
      referrerSubjects.add(subject);
  }
  const total = plan.untag.length + plan.delete.length + referrerSubjects.size;
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
  for (const op of plan.delete) {
    const repo = repositoryOfImage(op.image);
    push({
      action: 'delete',
      id: op.image,
      status: 'planned',
      reason: `wave ${op.wave}${op.tags.length > 0 ? `; its tags ${op.tags.join(', ')} go with it` : ''}`,
      requests: [
        `GET /v2/${repo}/tags/list`,
        `HEAD /v2/${repo}/manifests/<tag> for each current tag`,
        `DELETE /v2/${repo}/manifests/${digestOfImage(op.image)}`,
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
  return finish(true, outcomes, plan.reclaimableBytes);
}
