// Over 400 lines: opening, resuming, settling earlier runs and finishing interrupted operations all
// read the same journal state; issue 14's apply folder is where it is split.
/**
 * How `applyPlan` uses the undo journal: opening it (or resuming from it), recording an intent
 * before each destructive request and its end after, and finishing what an interrupted run left
 * half done.
 */
import { classifyTag } from '../core/attachments.js';
import type { ImageGraph } from '../core/image-graph.js';
import {
  digestOfImage,
  imageId,
  repositoryOfImage,
  repositoryOfTag,
  tagId,
  tagName,
} from '../core/naming.js';
import type { CleanupPlan } from '../core/plan-types.js';
import { recheckPlan } from '../core/recheck.js';
import type { OperationOutcome } from '../core/target.js';
import { buildGraph } from './build-graph.js';
import type { RegistryClient } from './client.js';
import { removeDanglingTags } from './dangling-tags.js';
import { JournalError } from './errors/journal-error.js';
import {
  JOURNAL_FORMAT,
  type JournalIntent,
  type JournalKey,
  JournalWriter,
  normalizeRegistry,
  planDigest,
  readJournal,
} from './journal.js';
import { Loader } from './loader.js';
import { parseManifest } from './manifest.js';
import { OCI_MANIFEST } from './media-types.js';
import type { FetchedManifest } from './types.js';
import { removeOwnPlaceholder } from './untag.js';

/** The journal of one `applyPlan` run and what earlier runs of the same plan finished. */
export interface ApplyJournal {
  writer: JournalWriter;
  /**
   * `delete <image>` / `untag <tag>` an earlier run recorded as finished; only operations of the
   * plan, and (after {@link confirmFinished}) only those the registry agrees are finished; with
   * the `seq` of the record that says so.
   */
  finished: Map<string, number>;
  /**
   * Intents of earlier runs without an end (interrupted or failed), by `<action> <id>`: only
   * operations of the plan (rewrites: of a fallback tag in one of its repositories).
   */
  unfinished: Map<string, JournalIntent>;
  /**
   * Intents that earlier runs of other plans left without an end, or with a `failed` end of their
   * own run (an interrupted or failed run, then a re-plan): settled by {@link settleEarlierRuns}
   * before this run's work.
   */
  earlier: JournalIntent[];
  /** What the journal claimed that this run did not believe: for the result's notes. */
  notes: string[];
}

/**
 * Whether an intent is not an operation of the plan (an untag of its tag at its image, a delete
 * of its image). Rewrites are checked here only for their form (a fallback tag of a plan
 * repository); {@link finishInterruptedRewrites} checks that the plan rewrites that tag.
 */
function outsidePlan(
  intent: JournalIntent,
  untags: ReadonlyMap<string, string>,
  deletes: ReadonlySet<string>,
  repositories: ReadonlySet<string>,
): boolean {
  const image = imageId(intent.repository, intent.digest);
  if (intent.action === 'delete') return intent.id !== image || !deletes.has(image);
  if (repositoryOfTag(intent.id) !== intent.repository) return true;
  if (intent.action === 'untag') return untags.get(intent.id) !== image;
  return (
    !repositories.has(intent.repository) || classifyTag(tagName(intent.id)).kind !== 'fallback'
  );
}

function ignoredNote(intent: JournalIntent): string {
  return `undo journal record ${intent.seq} (${intent.action} ${intent.id}) is not an operation of this plan: ignored, nothing sent`;
}

/** What an intent records, before the writer numbers it. */
export type IntentDraft = Omit<JournalIntent, 'type' | 'seq'>;

/**
 * Opens the journal for a run of `plan`. An existing journal must be of the same registry (and
 * pass its integrity chain, keyed with `key` when given). When its last run is of the same plan,
 * this run resumes it: finished operations are skipped. Otherwise (a re-plan after a partial run,
 * next week's cleanup) a new run is appended; intents earlier runs left without an end are
 * collected in {@link ApplyJournal.earlier} and settled against the registry by
 * {@link settleEarlierRuns} before any work. Records naming an operation that is not in the plan
 * are ignored and noted.
 * @throws {JournalError}
 */
export async function openApplyJournal(
  path: string,
  plan: CleanupPlan,
  registry: string,
  key?: JournalKey,
): Promise<ApplyJournal> {
  const digest = planDigest(plan);
  const state = await readJournal(path, { key });
  const finished = new Map<string, number>();
  const unfinished = new Map<string, JournalIntent>();
  const earlier: JournalIntent[] = [];
  const notes: string[] = [];
  const runs = state?.runs ?? [];
  for (const run of runs) {
    if (normalizeRegistry(run.registry) !== normalizeRegistry(registry))
      throw new JournalError(
        path,
        `it records a run against ${run.registry}, not ${registry}; use a new journal file`,
      );
  }
  if (state && state.intents.length > 0 && runs.length === 0)
    throw new JournalError(path, 'it names no plan and registry (no run line); refused');
  // The runs this one resumes: the last runs, as long as they are of this plan.
  let from = runs.length;
  while (from > 0 && runs[from - 1]?.plan === digest) from--;
  const untags = new Map(plan.untag.map((op) => [op.tag, op.image]));
  const deletes = new Set(plan.delete.map((op) => op.image));
  const repositories = new Set([
    ...plan.untag.map((op) => repositoryOfTag(op.tag)),
    ...plan.delete.map((op) => repositoryOfImage(op.image)),
  ]);
  for (const intent of state?.intents ?? []) {
    const end = state?.ends.get(intent.seq);
    const run = state?.runOf.get(intent.seq) ?? -1;
    if (run < from) {
      // A run of another plan: what it left unfinished is settled, the rest is history. A
      // `failed` end its own run wrote is unfinished too (a DELETE cut short by a registry crash
      // may have unlinked the manifest and left its tags); one a later run's settling wrote is not.
      if (end === undefined || (end === 'failed' && state?.endRunOf.get(intent.seq) === run))
        earlier.push(intent);
      continue;
    }
    if (outsidePlan(intent, untags, deletes, repositories)) {
      notes.push(ignoredNote(intent));
      continue;
    }
    const key = `${intent.action} ${intent.id}`;
    if (end === 'done') {
      finished.set(key, intent.seq);
      unfinished.delete(key);
    } else if (!finished.has(key)) unfinished.set(key, intent);
  }
  const writer = await JournalWriter.open(path, state, { key });
  await writer.append({
    type: 'run',
    format: JOURNAL_FORMAT,
    plan: digest,
    registry,
    at: new Date().toISOString(),
  });
  return { writer, finished, unfinished, earlier, notes };
}

/**
 * Manifests the journal's last run may have left unreachable through tags, as `repo@sha256:…`:
 * the children and subjects of manifests it deleted or rewrote that it did not delete itself (an
 * interrupted run that deleted an index but not yet its children). The OCI API cannot list
 * untagged manifests, so a re-plan after an interrupted run sees them only when they are passed
 * to {@link loadGraph} as `extraDigests`; the policy then decides about them as about any
 * untagged manifest. Empty when there is no journal or it is of another registry.
 * @throws {JournalError} when the journal is damaged or breaks its integrity chain.
 */
export async function journalLeftovers(
  path: string,
  registry: string,
  options: { key?: JournalKey | undefined } = {},
): Promise<string[]> {
  const state = await readJournal(path, options);
  const last = (state?.runs.length ?? 0) - 1;
  if (!state || last < 0) return [];
  if (state.runs.some((r) => normalizeRegistry(r.registry) !== normalizeRegistry(registry)))
    return [];
  const intents = state.intents.filter((i) => state.runOf.get(i.seq) === last);
  const deleted = new Set(
    intents
      .filter((i) => i.action === 'delete' && state.ends.get(i.seq) === 'done')
      .map((i) => imageId(i.repository, i.digest)),
  );
  const out = new Set<string>();
  for (const intent of intents) {
    let parsed: ReturnType<typeof parseManifest>;
    try {
      parsed = parseManifest(
        Buffer.from(intent.manifest, 'base64'),
        intent.mediaType,
        intent.repository,
        intent.digest,
      );
    } catch {
      continue; // not a manifest this version reads: nothing to follow
    }
    const named = [...parsed.manifests.map((d) => d.digest)];
    if (parsed.subject) named.push(parsed.subject.digest);
    if (intent.action === 'delete' && state.ends.get(intent.seq) !== 'done')
      named.push(intent.digest);
    for (const digest of named) {
      const id = imageId(intent.repository, digest);
      if (!deleted.has(id)) out.add(id);
    }
  }
  return [...out].sort();
}

/**
 * Settles the intents earlier runs of other plans left without an end or ended as `failed`,
 * against the registry as it is now, one after another, and writes each one's end (so that no
 * later run settles it again): an interrupted delete whose manifest is
 * gone is `done` (its tags left listed pointing at nothing are removed, as after a DELETE without
 * a clean 202); one whose manifest is still there is `failed` (not done: this plan decides
 * afresh). An interrupted untag is finished where the tag points at nothing or at regprune's own
 * placeholder for it. An interrupted fallback-index rewrite deletes its old index only for a
 * fallback tag of a repository of this plan, with the new index on the tag, and where no current
 * tag or image needs the old one ({@link oldIndexInUse}); otherwise the old index stays (an
 * untagged index, nothing lost). Each settled intent is noted; one that cannot be settled now (a
 * registry error) keeps no end, is noted, and is tried again by the next run.
 */
export async function settleEarlierRuns(
  client: RegistryClient,
  journal: ApplyJournal,
  plan: CleanupPlan,
  graph: ImageGraph,
  signal: AbortSignal | undefined,
): Promise<void> {
  const repositories = new Set([
    ...plan.untag.map((op) => repositoryOfTag(op.tag)),
    ...plan.delete.map((op) => repositoryOfImage(op.image)),
  ]);
  const listed = new Map<string, Set<string>>();
  const tagsOf = async (repo: string) => {
    let tags = listed.get(repo);
    if (!tags) {
      tags = new Set(await client.listTags(repo, { signal }));
      listed.set(repo, tags);
    }
    return tags;
  };
  for (const intent of journal.earlier) {
    const what = `undo journal record ${intent.seq} (${intent.action} ${intent.id}), left unfinished or failed by an earlier run of another plan`;
    try {
      const [status, how] = await settleOne(
        client,
        intent,
        plan,
        graph,
        repositories,
        tagsOf,
        signal,
      );
      await journal.writer.append({ type: 'end', seq: intent.seq, status });
      journal.notes.push(`${what}: ${how}`);
    } catch (error) {
      if (error instanceof JournalError || signal?.aborted) throw error;
      journal.notes.push(
        `${what}: could not be settled now (${(error as Error).message}); the next run tries again`,
      );
    }
  }
}

async function settleOne(
  client: RegistryClient,
  intent: JournalIntent,
  plan: CleanupPlan,
  graph: ImageGraph,
  repositories: ReadonlySet<string>,
  tagsOf: (repo: string) => Promise<Set<string>>,
  signal: AbortSignal | undefined,
): Promise<['done' | 'failed', string]> {
  const repo = intent.repository;
  if (intent.action === 'delete') {
    if ((await client.resolve(repo, intent.digest, { signal })) !== undefined)
      return [
        'failed',
        'the image is still there: recorded as not done (this plan decides afresh)',
      ];
    const cleanup = await removeDanglingTags(client, repo, intent.tags, await tagsOf(repo), signal);
    const removed =
      cleanup.removed.length > 0
        ? `; its tags ${cleanup.removed.join(', ')} were left listed pointing at nothing: removed them`
        : '';
    return ['done', `the image is gone: recorded as done${removed}`];
  }
  const name = tagName(intent.id);
  if (repositoryOfTag(intent.id) !== repo)
    return ['failed', 'its tag is not in its repository: ignored, nothing sent'];
  if (intent.action === 'untag') {
    const now = await client.resolve(repo, name, { signal });
    if (now === intent.digest)
      return ['failed', 'the tag still points at the image: recorded as not done'];
    if (now === undefined) {
      const cleanup = await removeDanglingTags(client, repo, [name], await tagsOf(repo), signal);
      return cleanup.removed.length > 0
        ? ['done', 'the tag was left listed pointing at nothing: removed it']
        : ['done', 'the tag is gone: recorded as done'];
    }
    const cleared = await removeOwnPlaceholder(client, repo, name, now, signal);
    return cleared.removed
      ? ['done', 'its placeholder was left on the tag: deleted it']
      : ['failed', `the tag now points at ${imageId(repo, now)} (pushed since): left alone`];
  }
  const old = imageId(repo, intent.digest);
  if (
    !intent.replacement ||
    intent.tags.length !== 1 ||
    !repositories.has(repo) ||
    classifyTag(name).kind !== 'fallback'
  )
    return [
      'failed',
      `not a fallback-index rewrite in a repository of this plan: ${old} is left as it is`,
    ];
  const now = await client.resolve(repo, name, { signal });
  if (now !== intent.replacement || intent.digest === intent.replacement)
    return ['failed', 'the tag does not hold the rewritten index: nothing to finish'];
  const inUse = await oldIndexInUse(client, plan, graph, intent, signal);
  if (inUse) return ['failed', `its old index ${old} is not deleted, because ${inUse}`];
  await client.deleteManifest(repo, intent.digest, { signal });
  return ['done', `finished it: deleted the old index ${old}`];
}

/**
 * A journal's "finished" is believed only where the registry agrees: a deleted image is gone, an
 * untagged tag no longer points at its image. Otherwise (an edited journal, or someone pushed it
 * again) the operation is handled as not done: the usual path re-checks and does it again. Sends
 * one HEAD per finished operation.
 */
export async function confirmFinished(
  client: RegistryClient,
  journal: ApplyJournal,
  plan: CleanupPlan,
  signal: AbortSignal | undefined,
): Promise<void> {
  const claims = [
    ...plan.untag
      .filter((op) => journal.finished.has(`untag ${op.tag}`))
      .map((op) => ({
        key: `untag ${op.tag}`,
        repository: repositoryOfTag(op.tag),
        ref: tagName(op.tag),
        still: digestOfImage(op.image),
        what: `the tag still points at ${op.image}`,
      })),
    ...plan.delete
      .filter((op) => journal.finished.has(`delete ${op.image}`))
      .map((op) => ({
        key: `delete ${op.image}`,
        repository: repositoryOfImage(op.image),
        ref: digestOfImage(op.image),
        still: digestOfImage(op.image),
        what: 'the registry still has it',
      })),
  ];
  const refuted = await Promise.all(
    claims.map(
      async (claim) =>
        (await client.resolve(claim.repository, claim.ref, { signal })) === claim.still,
    ),
  );
  claims.forEach((claim, i) => {
    if (!refuted[i]) return;
    const seq = journal.finished.get(claim.key);
    journal.finished.delete(claim.key);
    journal.notes.push(
      `undo journal record ${seq} (${claim.key}) says it was done, but ${claim.what}: done again after the re-check`,
    );
  });
}

/** Writes the end of one journaled operation (a no-op without a journal). */
export type Settle = (status: 'done' | 'failed') => Promise<void>;

/**
 * Writes an operation's durable intent now and returns what writes its end, for an operation
 * whose end comes later than its request (a delete whose left-behind tags are checked first).
 */
export async function beginIntent(
  journal: ApplyJournal | undefined,
  draft: IntentDraft | undefined,
): Promise<Settle> {
  if (!journal || !draft) return async () => {};
  const seq = journal.writer.nextSeq();
  await journal.writer.append({ type: 'intent', seq, ...draft });
  return async (status) => {
    await journal.writer.append({ type: 'end', seq, status });
  };
}

/**
 * Runs `work` (the destructive requests of one operation) between a durable intent and its end.
 * Without a journal it just runs `work`.
 */
export async function journaled<T>(
  journal: ApplyJournal | undefined,
  draft: IntentDraft | undefined,
  work: () => Promise<T>,
): Promise<T> {
  const settle = await beginIntent(journal, draft);
  let result: T;
  try {
    result = await work();
  } catch (error) {
    await settle('failed').catch(() => {});
    throw error;
  }
  await settle('done');
  return result;
}

/** Marks an intent of an earlier run as finished by this one. */
export async function endEarlier(journal: ApplyJournal, intent: JournalIntent): Promise<void> {
  await journal.writer.append({ type: 'end', seq: intent.seq, status: 'done' });
}

/**
 * The media type to push `fetched` back with: the body's own, else the response's, else the one
 * the load saw. Body first, as `parseManifest` reads it: a registry checks the pushed type against
 * the body, whatever header it served the manifest with.
 */
export function mediaTypeOf(fetched: FetchedManifest, fallback?: string): string {
  try {
    const body = JSON.parse(new TextDecoder().decode(fetched.bytes)) as { mediaType?: unknown };
    if (typeof body.mediaType === 'string') return body.mediaType;
  } catch {
    // not JSON: the registry will refuse it anyway
  }
  return fetched.mediaType || fallback || OCI_MANIFEST;
}

/** An intent draft for the manifest `fetched` in `repository`. */
export function draftOf(
  action: JournalIntent['action'],
  id: string,
  repository: string,
  fetched: FetchedManifest,
  tags: string[],
  fallbackMediaType?: string,
): IntentDraft {
  return {
    action,
    id,
    repository,
    digest: fetched.digest,
    mediaType: mediaTypeOf(fetched, fallbackMediaType),
    manifest: Buffer.from(fetched.bytes).toString('base64'),
    tags: [...tags].sort(),
  };
}

/** The fallback tags (`repo:sha256-<hex>`) `plan` may rewrite: of its deletions and their subjects. */
function plannedRewrites(plan: CleanupPlan, graph: ImageGraph): Set<string> {
  const out = new Set<string>();
  for (const op of plan.delete) {
    const repo = repositoryOfImage(op.image);
    for (const subject of [op.image, ...graph.targetsOf(op.image, 'referrer')])
      out.add(tagId(repo, digestOfImage(subject).replace(':', '-')));
  }
  return out;
}

/**
 * Why the old index an interrupted rewrite left must not be deleted now (`undefined`: it may).
 * A real old fallback index is no image of the graph (the loader keeps fallback indexes apart),
 * and no current tag points at it; anything else is a journal that was edited.
 */
async function oldIndexInUse(
  client: RegistryClient,
  plan: CleanupPlan,
  graph: ImageGraph,
  intent: JournalIntent,
  signal: AbortSignal | undefined,
): Promise<string | undefined> {
  const repo = intent.repository;
  const old = imageId(repo, intent.digest);
  const loader = new Loader(client, signal ?? new AbortController().signal, () => {}, graph);
  await loader.readTags(repo, true);
  await loader.drain();
  const current = loader.data(repo);
  const tagged = [...current.tags].filter(([, d]) => d === intent.digest).map(([t]) => t);
  if (tagged.length > 0) return `${tagId(repo, tagged.sort()[0] as string)} points at ${old}`;
  const checkGraph = buildGraph(loader, graph.clone());
  if (!graph.hasImage(old) && !checkGraph.hasImage(old)) return undefined;
  // An image: what the stale-plan re-check says about deleting it now, as the usual path asks.
  const roots: Array<[string, string]> = [];
  for (const [tag, digest] of current.tags) {
    const image = imageId(repo, digest);
    if (checkGraph.hasImage(image)) roots.push([tagId(repo, tag), image]);
  }
  for (const tag of plan.keptTags) {
    const target = graph.tagTarget(tag);
    if (repositoryOfTag(tag) !== repo && target) roots.push([tag, target]);
  }
  const probe = { image: old, wave: 0, tags: [] };
  const recheck = recheckPlan(checkGraph, { ...plan, delete: [probe] }, roots);
  const skipped = recheck.skip[0];
  if (skipped) return skipped.reason;
  return plan.keep.some((k) => k.image === old)
    ? `the plan keeps ${old}`
    : `${old} is an image, not an old fallback index`;
}

/**
 * Finishes fallback-index rewrites an earlier run left between its two requests: the new index is
 * on the tag but the old one was not yet deleted. Only rewrites of the plan's own fallback tags
 * are finished, and only where the old index is no image and no current tag points at it. Returns
 * an outcome for each resumed rewrite; records of other tags are noted and ignored.
 */
export async function finishInterruptedRewrites(
  client: RegistryClient,
  journal: ApplyJournal,
  plan: CleanupPlan,
  graph: ImageGraph,
  signal: AbortSignal | undefined,
): Promise<OperationOutcome[]> {
  const outcomes: OperationOutcome[] = [];
  const planned = plannedRewrites(plan, graph);
  for (const intent of journal.unfinished.values()) {
    // Only an index no other tag shared was to be deleted after the rewrite.
    if (intent.action !== 'rewrite' || !intent.replacement || intent.tags.length !== 1) continue;
    if (!planned.has(intent.id)) {
      journal.notes.push(ignoredNote(intent));
      continue;
    }
    const tag = tagName(intent.id);
    const repo = intent.repository;
    const requests = [`HEAD /v2/${repo}/manifests/${tag}`];
    const now = await client.resolve(repo, tag, { signal });
    if (now !== intent.replacement || intent.digest === intent.replacement) continue;
    requests.push(`GET /v2/${repo}/tags/list`, `HEAD /v2/${repo}/manifests/<tag> for each tag`);
    const inUse = await oldIndexInUse(client, plan, graph, intent, signal);
    if (inUse) {
      outcomes.push({
        action: 'rewrite',
        id: intent.id,
        status: 'skipped',
        reason: `an interrupted earlier run's rewrite (undo journal record ${intent.seq}) was not finished: its old index ${imageId(repo, intent.digest)} is not deleted, because ${inUse}`,
        requests,
      });
      continue;
    }
    requests.push(`DELETE /v2/${repo}/manifests/${intent.digest}`);
    await client.deleteManifest(repo, intent.digest, { signal });
    await endEarlier(journal, intent);
    outcomes.push({
      action: 'rewrite',
      id: intent.id,
      status: 'done',
      reason: `finished an interrupted earlier run's rewrite (undo journal): deleted the old index ${imageId(repo, intent.digest)}`,
      requests,
    });
  }
  return outcomes;
}
