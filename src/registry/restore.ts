import { classifyTag } from '../core/attachments.js';
import { imageId, repositoryOfTag, tagId, tagName } from '../core/naming.js';
import { compareIds } from '../core/sort.js';
import type { RegistryClient, RequestOptions } from './client.js';
import { JournalError } from './errors/journal-error.js';
import {
  type MissingContent,
  RestoreBlobMissingError,
} from './errors/restore-blob-missing-error.js';
import {
  type JournalIntent,
  type JournalKey,
  type JournalState,
  normalizeRegistry,
  readJournal,
} from './journal.js';
import { parseManifest } from './manifest.js';
import { restorePlatformVersions } from './platform/restore-versions.js';
import { isPlaceholderFor } from './untag.js';

/** A manifest named in the journal, after {@link restore}. */
export interface RestoredManifest {
  repository: string;
  digest: string;
  /** `restored`: pushed again; `present`: the registry still had it. */
  status: 'restored' | 'present';
}

/** A tag named in the journal, after {@link restore}. */
export interface RestoredTag {
  /** `repo:tag` */
  tag: string;
  /** The digest it pointed at before the cleanup (and points at again unless `conflict`). */
  digest: string;
  /**
   * `restored`: pointed at `digest` again; `present`: it already did; `conflict`: it now points at
   * something else that someone pushed since, so it was left alone.
   */
  status: 'restored' | 'present' | 'conflict';
  reason?: string;
}

/** Options of {@link restore}. */
export interface RestoreOptions extends RequestOptions {
  /**
   * Restore a journal whose run lines name another registry (or none) into this one, e.g. into a
   * mirror on purpose. Default `false`: such a journal is refused ({@link JournalError}), since
   * replaying it would bring back tags the other registry's owner may have deleted.
   */
  allowOtherRegistry?: boolean;
  /** The key the journal was written with (`applyPlan`'s `journalKey`). Default: none. */
  journalKey?: JournalKey;
  /**
   * Called as work is done, phase by phase: `checking` (is each journaled manifest still there),
   * `manifests` (pushed back or found present), `tags` (pointed back or left alone). A callback
   * that throws stops the restore with its error.
   */
  onProgress?: (event: RestoreProgress) => void;
}

/** A {@link restore} progress event: how much of the current phase is done. */
export interface RestoreProgress {
  phase: 'checking' | 'manifests' | 'tags';
  done: number;
  total: number;
}

/** The result of {@link restore}. */
export interface RestoreResult {
  manifests: RestoredManifest[];
  tags: RestoredTag[];
  notes: string[];
}

/** Note on every restore result: the journal holds manifests, not blobs. */
export const RESTORE_NOTE =
  "The journal holds manifests, not blobs: restore works only until the registry's garbage collection removes the blobs the deleted manifests needed.";

interface Entry {
  repository: string;
  digest: string;
  mediaType: string;
  bytes: Buffer;
  /** Journal position of its first intent. */
  order: number;
  /** Manifests it lists (index children) and its subject: pushed before it. */
  before: string[];
  /** Index children: must exist when it is pushed. */
  children: string[];
  blobs: string[];
}

const key = imageId;

function entriesOf(intents: JournalIntent[]): Map<string, Entry> {
  const entries = new Map<string, Entry>();
  intents.forEach((intent, order) => {
    const id = key(intent.repository, intent.digest);
    if (entries.has(id)) return;
    const bytes = Buffer.from(intent.manifest, 'base64');
    const parsed = parseManifest(bytes, intent.mediaType, intent.repository, intent.digest);
    const children = parsed.manifests.map((d) => d.digest);
    entries.set(id, {
      repository: intent.repository,
      digest: intent.digest,
      mediaType: intent.mediaType,
      bytes,
      order,
      before: parsed.subject ? [...children, parsed.subject.digest] : children,
      children,
      blobs: [
        ...(parsed.config ? [parsed.config.digest] : []),
        ...parsed.layers.map((d) => d.digest),
      ],
    });
  });
  return entries;
}

/** Children before their index, subjects before their referrers; otherwise journal order. */
function pushOrder(entries: Map<string, Entry>): Entry[] {
  const out: Entry[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (entry: Entry) => {
    const id = key(entry.repository, entry.digest);
    if (state.has(id)) return; // done, or a cycle (impossible with digests): push as is
    state.set(id, 'visiting');
    for (const digest of entry.before) {
      const dep = entries.get(key(entry.repository, digest));
      if (dep) visit(dep);
    }
    state.set(id, 'done');
    out.push(entry);
  };
  for (const entry of [...entries.values()].sort((a, b) => a.order - b.order)) visit(entry);
  return out;
}

/**
 * Whether `bytes` is what a fallback-index rewrite of `old` writes: an index listing only
 * manifests `old` listed (a rewrite only drops deleted referrers).
 */
function narrowedFrom(bytes: Uint8Array, old: Entry): boolean {
  try {
    const index = JSON.parse(new TextDecoder().decode(bytes)) as { manifests?: unknown };
    if (!Array.isArray(index.manifests)) return false;
    const listed = new Set(old.children);
    return index.manifests.every(
      (m: unknown) =>
        typeof m === 'object' &&
        m !== null &&
        listed.has((m as { digest?: unknown }).digest as string),
    );
  } catch {
    return false;
  }
}

/** Refuses a journal written for another registry than `client`'s, unless allowed. */
function checkRegistry(path: string, state: JournalState, url: string, allow: boolean): void {
  if (allow) return;
  const how =
    'pass allowOtherRegistry: true (CLI: --allow-other-registry) only if restoring it here is really meant';
  const registries = [...new Set(state.runs.map((run) => run.registry))];
  if (registries.length === 0)
    throw new JournalError(
      path,
      `it names no registry (no run line), so it cannot be shown to belong to ${url}; ${how}`,
    );
  const other = registries.filter((r) => normalizeRegistry(r) !== normalizeRegistry(url));
  if (other.length > 0)
    throw new JournalError(
      path,
      `it was written for ${other.join(', ')}, not ${url}: restoring it here could bring back tags this registry's owner deleted; ${how}`,
    );
}

/**
 * Undoes every `applyPlan` run of an undo journal (`applyPlan(…, { journal })`), as if undoing
 * them newest first: a tag gets the digest its first record names, i.e. where it pointed before
 * the journal's first run touched it (a tag deleted in one run, pushed again and deleted in a
 * later run points at its first digest again; the later digest is pushed back by digest). Re-pushes every
 * journaled manifest by digest (children before their index, subjects before their referrers)
 * and points every journaled tag at its original digest again. Tags someone moved since are left
 * alone and reported as `conflict`. It needs `pull,push` on the repositories.
 *
 * A journal may have been edited by others: it must be of this registry (see
 * {@link RestoreOptions.allowOtherRegistry}) and pass its integrity chain, and a tag is re-pointed
 * over its current digest only when that digest is a placeholder of regprune's for it, or the
 * replacement a rewrite record wrote to that very tag; anything else is a `conflict`.
 *
 * It works only while the registry still has the blobs: a registry's garbage collection after the
 * cleanup frees them, and then nothing is pushed and {@link RestoreBlobMissingError} names what
 * is missing. Running it twice is harmless (everything is `present` the second time).
 *
 * @throws {JournalError} when the journal is missing, damaged, breaks its integrity chain or
 *   names another registry.
 * @throws {RestoreBlobMissingError} before any change, when content a manifest needs is gone.
 */
export async function restore(
  client: RegistryClient,
  journalPath: string,
  options: RestoreOptions = {},
): Promise<RestoreResult> {
  const state = await readJournal(journalPath, { key: options.journalKey });
  if (!state) throw new JournalError(journalPath, 'does not exist; nothing to restore');
  checkRegistry(journalPath, state, client.url, options.allowOtherRegistry ?? false);
  const entries = entriesOf(state.intents);
  const order = pushOrder(entries);
  const signal = options.signal;

  // A platform that keeps deleted manifests (GitHub, 30 days) restores them itself first.
  const platformRestored = client.platform?.restoreVersion
    ? await restorePlatformVersions(client.platform, order, client, signal)
    : new Set<string>();
  // Check everything first, so that a registry that lost blobs is left as it is.
  const progress = (phase: RestoreProgress['phase'], done: number, total: number) =>
    options.onProgress?.({ phase, done, total });
  const present = new Set<string>();
  let checked = 0;
  await Promise.all(
    order.map(async (entry) => {
      if ((await client.resolve(entry.repository, entry.digest, { signal })) !== undefined)
        present.add(key(entry.repository, entry.digest));
      progress('checking', ++checked, order.length);
    }),
  );
  const missing: MissingContent[] = [];
  const blobChecks = new Map<string, Promise<boolean>>();
  const hasBlob = (repository: string, digest: string) => {
    const id = key(repository, digest);
    let check = blobChecks.get(id);
    if (!check) {
      check = client.hasBlob(repository, digest, { signal });
      blobChecks.set(id, check);
    }
    return check;
  };
  await Promise.all(
    order.map(async (entry) => {
      if (present.has(key(entry.repository, entry.digest))) return;
      const manifest = entry.digest;
      const { repository } = entry;
      for (const blob of entry.blobs) {
        if (!(await hasBlob(repository, blob)))
          missing.push({ repository, manifest, missing: blob, kind: 'blob' });
      }
      for (const child of entry.children) {
        if (entries.has(key(repository, child))) continue;
        if ((await client.resolve(repository, child, { signal })) === undefined)
          missing.push({ repository, manifest, missing: child, kind: 'manifest' });
      }
    }),
  );
  if (missing.length > 0) {
    missing.sort(
      (a, b) =>
        compareIds(a.repository, b.repository) ||
        compareIds(a.manifest, b.manifest) ||
        compareIds(a.missing, b.missing),
    );
    throw new RestoreBlobMissingError(missing);
  }

  const manifests: RestoredManifest[] = [];
  for (const entry of order) {
    const { repository, digest } = entry;
    if (platformRestored.has(key(repository, digest))) {
      manifests.push({ repository, digest, status: 'restored' });
      continue;
    }
    if (present.has(key(repository, digest))) {
      manifests.push({ repository, digest, status: 'present' });
    } else {
      await client.putManifest(repository, digest, entry.bytes, entry.mediaType, { signal });
      manifests.push({ repository, digest, status: 'restored' });
    }
    progress('manifests', manifests.length, order.length);
  }

  // A tag gets the digest of its first intent: what it pointed at before regprune touched it.
  const claims = new Map<string, { repository: string; tag: string; digest: string }>();
  // `repo:sha256-<hex>` → indexes a rewrite wrote to that fallback tag: only there is a
  // replacement regprune's own (and only if it lists nothing the old index did not).
  const written = new Map<string, Set<string>>();
  for (const intent of state.intents) {
    if (
      intent.action === 'rewrite' &&
      intent.replacement &&
      repositoryOfTag(intent.id) === intent.repository &&
      classifyTag(tagName(intent.id)).kind === 'fallback'
    ) {
      const id = tagId(intent.repository, tagName(intent.id));
      const set = written.get(id) ?? new Set<string>();
      set.add(intent.replacement);
      written.set(id, set);
    }
    for (const tag of intent.tags) {
      const id = tagId(intent.repository, tag);
      if (!claims.has(id))
        claims.set(id, { repository: intent.repository, tag, digest: intent.digest });
    }
  }
  const tags: RestoredTag[] = [];
  for (const [id, { repository, tag, digest }] of claims) {
    if (tags.length > 0) progress('tags', tags.length, claims.size);
    const now = await client.resolve(repository, tag, { signal });
    if (now === digest) {
      tags.push({ tag: id, digest, status: 'present' });
      continue;
    }
    const entry = entries.get(key(repository, digest)) as Entry;
    if (now !== undefined) {
      const current = await client.getManifest(repository, now, { signal });
      const ours =
        current &&
        (isPlaceholderFor(current.bytes, tag) ||
          (written.get(id)?.has(now) && narrowedFrom(current.bytes, entry)));
      if (current && !ours) {
        tags.push({
          tag: id,
          digest,
          status: 'conflict',
          reason: `the tag now points at ${repository}@${now}, pushed after the cleanup; left alone`,
        });
        continue;
      }
    }
    await client.putManifest(repository, tag, entry.bytes, entry.mediaType, { signal });
    tags.push({ tag: id, digest, status: 'restored' });
  }
  if (claims.size > 0) progress('tags', tags.length, claims.size);
  return { manifests, tags, notes: [RESTORE_NOTE] };
}
