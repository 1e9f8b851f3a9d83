/** Recording an intent before each destructive request and how it ended after. */
import type { JournalIntent } from '../journal.js';
import { OCI_MANIFEST } from '../media-types.js';
import type { FetchedManifest } from '../types.js';
import type { ApplyJournal, IntentDraft } from './journal-open.js';

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
