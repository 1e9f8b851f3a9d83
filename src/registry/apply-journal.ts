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
import { OCI_MANIFEST } from './media-types.js';
import type { FetchedManifest } from './types.js';

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
 * Opens the journal for a run of `plan`. An existing journal must belong to the same plan and
 * registry (and pass its integrity chain, keyed with `key` when given); its finished operations
 * are then skipped (resume). Records naming an operation that is not in the plan are ignored and
 * noted.
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
  const notes: string[] = [];
  for (const run of state?.runs ?? []) {
    if (run.plan !== digest)
      throw new JournalError(
        path,
        `it records a run of another plan (${run.plan}, this plan is ${digest}); use a new journal file per plan`,
      );
    if (normalizeRegistry(run.registry) !== normalizeRegistry(registry))
      throw new JournalError(
        path,
        `it records a run against ${run.registry}, not ${registry}; use a new journal file`,
      );
  }
  if (state && state.intents.length > 0 && state.runs.length === 0)
    throw new JournalError(path, 'it names no plan and registry (no run line); refused');
  const untags = new Map(plan.untag.map((op) => [op.tag, op.image]));
  const deletes = new Set(plan.delete.map((op) => op.image));
  const repositories = new Set([
    ...plan.untag.map((op) => repositoryOfTag(op.tag)),
    ...plan.delete.map((op) => repositoryOfImage(op.image)),
  ]);
  for (const intent of state?.intents ?? []) {
    if (outsidePlan(intent, untags, deletes, repositories)) {
      notes.push(ignoredNote(intent));
      continue;
    }
    const key = `${intent.action} ${intent.id}`;
    const end = state?.ends.get(intent.seq);
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
  return { writer, finished, unfinished, notes };
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
