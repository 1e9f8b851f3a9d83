/**
 * How `applyPlan` uses the undo journal: opening it (or resuming from it), recording an intent
 * before each destructive request and its end after, and finishing what an interrupted run left
 * half done.
 */
import { tagName } from '../core/naming.js';
import type { CleanupPlan } from '../core/plan-types.js';
import type { RegistryClient } from './client.js';
import { JournalError } from './errors/journal-error.js';
import {
  JOURNAL_FORMAT,
  type JournalIntent,
  JournalWriter,
  planDigest,
  readJournal,
} from './journal.js';
import { OCI_MANIFEST } from './media-types.js';
import type { FetchedManifest } from './types.js';

/** The journal of one `applyPlan` run and what earlier runs of the same plan finished. */
export interface ApplyJournal {
  writer: JournalWriter;
  /** `delete <image>` / `untag <tag>` finished by an earlier run. */
  finished: Set<string>;
  /** Intents of earlier runs without an end (interrupted or failed), by `<action> <id>`. */
  unfinished: Map<string, JournalIntent>;
}

/** What an intent records, before the writer numbers it. */
export type IntentDraft = Omit<JournalIntent, 'type' | 'seq'>;

/**
 * Opens the journal for a run of `plan`. An existing journal must belong to the same plan and
 * registry; its finished operations are then skipped (resume).
 * @throws {JournalError}
 */
export async function openApplyJournal(
  path: string,
  plan: CleanupPlan,
  registry: string,
): Promise<ApplyJournal> {
  const digest = planDigest(plan);
  const state = await readJournal(path);
  const finished = new Set<string>();
  const unfinished = new Map<string, JournalIntent>();
  for (const run of state?.runs ?? []) {
    if (run.plan !== digest)
      throw new JournalError(
        path,
        `it records a run of another plan (${run.plan}, this plan is ${digest}); use a new journal file per plan`,
      );
    if (run.registry !== registry)
      throw new JournalError(
        path,
        `it records a run against ${run.registry}, not ${registry}; use a new journal file`,
      );
  }
  for (const intent of state?.intents ?? []) {
    const key = `${intent.action} ${intent.id}`;
    const end = state?.ends.get(intent.seq);
    if (end === 'done') {
      finished.add(key);
      unfinished.delete(key);
    } else if (!finished.has(key)) unfinished.set(key, intent);
  }
  const writer = await JournalWriter.open(path, state);
  await writer.append({
    type: 'run',
    format: JOURNAL_FORMAT,
    plan: digest,
    registry,
    at: new Date().toISOString(),
  });
  return { writer, finished, unfinished };
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

/**
 * Finishes fallback-index rewrites an earlier run left between its two requests: the new index is
 * on the tag but the old one was not yet deleted. Returns the requests sent.
 */
export async function finishInterruptedRewrites(
  client: RegistryClient,
  journal: ApplyJournal,
  signal: AbortSignal | undefined,
): Promise<void> {
  for (const intent of journal.unfinished.values()) {
    // Only an index no other tag shared was to be deleted after the rewrite.
    if (intent.action !== 'rewrite' || !intent.replacement || intent.tags.length !== 1) continue;
    const tag = tagName(intent.id);
    const now = await client.resolve(intent.repository, tag, { signal });
    if (now !== intent.replacement) continue;
    await client.deleteManifest(intent.repository, intent.digest, { signal });
    await endEarlier(journal, intent);
  }
}
