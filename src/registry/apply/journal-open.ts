/** Opening the undo journal for a run, or resuming it. */
import { classifyTag } from '../../core/attachments.js';
import { imageId, repositoryOfImage, repositoryOfTag, tagName } from '../../core/naming.js';
import type { CleanupPlan } from '../../core/plan-types.js';
import { JournalError } from '../errors/journal-error.js';
import {
  JOURNAL_FORMAT,
  type JournalIntent,
  type JournalKey,
  JournalWriter,
  normalizeRegistry,
  planDigest,
  readJournal,
} from '../journal.js';
import { parseManifest } from '../manifest.js';

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
export function outsidePlan(
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

export function ignoredNote(intent: JournalIntent): string {
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
