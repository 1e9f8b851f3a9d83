/**
 * The stale-plan re-check's view of one repository's tags during `applyPlan`: read right before
 * each DELETE and right after it. distribution's tag list gives names only, so a tag is resolved
 * (HEAD) only when its name is new since the last read; a known name keeps the digest it had then.
 */
import type { RegistryClient } from './client.js';
import { RegistryHttpError } from './errors/registry-http-error.js';
import type { FetchedManifest } from './types.js';

/** How often a HEAD answering 500 is sent again, and the first pause (doubled each time). */
const HEAD_500_RETRIES = 4;
const HEAD_500_PAUSE_MS = 10;

/**
 * `HEAD` a tag, sending it again when the registry answers 500: distribution 2.8 truncates a
 * tag's link file while a PUT writes it, and a HEAD reading it then answers 500 UNKNOWN. The
 * push finishes within milliseconds, so a short wait gives the real answer.
 * @returns its digest, or `undefined` when it points at nothing (404).
 * @throws {RegistryHttpError} when it still answers 500 after the retries.
 */
export async function resolveTag(
  client: RegistryClient,
  repository: string,
  tag: string,
  signal?: AbortSignal,
): Promise<string | undefined> {
  return retry500(() => client.resolve(repository, tag, { signal }), signal);
}

/** Like {@link resolveTag}, with a GET: the digest and the manifest's bytes. */
export async function fetchTag(
  client: RegistryClient,
  repository: string,
  tag: string,
  signal?: AbortSignal,
): Promise<FetchedManifest | undefined> {
  return retry500(() => client.getManifest(repository, tag, { signal }), signal);
}

/**
 * What a tag points at: `present` when its manifest answers, else the digest the registry names
 * for a tag left pointing at nothing (see {@link RegistryClient.tagTarget}); `undefined`
 * when it points at nothing the registry names.
 */
export type Resolution = { digest: string; present: boolean } | undefined;

/** {@link resolveTag}, and for a tag answering 404 a GET to read which digest it points at. */
export async function resolveFully(
  client: RegistryClient,
  repository: string,
  tag: string,
  signal?: AbortSignal,
): Promise<Resolution> {
  const digest = await resolveTag(client, repository, tag, signal);
  if (digest !== undefined) return { digest, present: true };
  return lookupTag(client, repository, tag, signal);
}

/**
 * One GET of a tag (read again on 500, as {@link resolveTag}): for a name seen while a DELETE
 * is in flight, one request that also tells which digest a tag the DELETE just unlinked names.
 */
export async function lookupTag(
  client: RegistryClient,
  repository: string,
  tag: string,
  signal?: AbortSignal,
): Promise<Resolution> {
  // A listed name answering a plain 404 is most often being pushed right now: distribution
  // writes the tag's index link (which lists it) before its current link (which resolves it).
  for (let attempt = 0; ; attempt++) {
    const found = await retry500(() => client.tagTarget(repository, tag, { signal }), signal);
    if (found !== undefined || attempt >= LISTED_404_RETRIES) return found;
    await new Promise((r) => setTimeout(r, LISTED_404_PAUSE_MS * 2 ** attempt));
    signal?.throwIfAborted();
  }
}

/** How often {@link lookupTag} reads a listed name again that answered a plain 404, and the first pause. */
const LISTED_404_RETRIES = 4;
const LISTED_404_PAUSE_MS = 5;

async function retry500<T>(read: () => Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await read();
    } catch (error) {
      if (!(error instanceof RegistryHttpError) || error.status !== 500) throw error;
      if (attempt >= HEAD_500_RETRIES) throw error;
      await new Promise((r) => setTimeout(r, HEAD_500_PAUSE_MS * 2 ** attempt));
      signal?.throwIfAborted();
    }
  }
}

/** Names resolved while a DELETE was in flight, offered to the read after it. */
export interface EarlyResolutions {
  resolutions: ReadonlyMap<string, Promise<Resolution>>;
  /** The digests those DELETEs removed: names that resolved to one are resolved again. */
  changed: ReadonlySet<string>;
}

/** What one {@link TagWatch.read} found. */
export interface TagRead {
  /** Names not seen before, with the digest a HEAD gave them. */
  added: Array<[tag: string, digest: string]>;
  /** Names known before and no longer listed, with the digest they had when last read. */
  vanished: Array<[tag: string, digest: string]>;
  /** New names that point at nothing, with the digest the registry names for them. */
  dangling: Array<[tag: string, digest: string]>;
  /** Every name listed. */
  listed: Set<string>;
  /** Requests sent. */
  requests: string[];
}

/** One repository's tags as last read (see the file comment). */
export class TagWatch {
  readonly repository: string;
  /** Bare tag → digest, as resolved when the name was first seen (or as regprune set it). */
  readonly tags = new Map<string, string>();
  /** Listed names that pointed at nothing when last resolved: resolved again on each read. */
  readonly unresolved = new Set<string>();
  /**
   * True while nothing was awaited since the last read: a DELETE sent now is one round trip from
   * it. Set false by the caller before any other request.
   */
  fresh = false;
  /** Reads done so far. */
  reads = 0;
  readonly #client: RegistryClient;

  constructor(client: RegistryClient, repository: string) {
    this.#client = client;
    this.repository = repository;
  }

  /**
   * Lists the tags, HEADs the names not seen before, forgets the names no longer listed. With
   * `bytes`, new names are read with a GET instead and their manifests kept there by digest (the
   * first read: the apply needs the bytes of the planned images anyway).
   */
  async read(
    signal?: AbortSignal,
    bytes?: Map<string, FetchedManifest>,
    early?: EarlyResolutions,
  ): Promise<TagRead> {
    const repo = this.repository;
    const listed = new Set(await this.#client.listTags(repo, { signal }));
    const requests = [`GET /v2/${repo}/tags/list`];
    const vanished: Array<[string, string]> = [];
    for (const [tag, digest] of this.tags) {
      if (listed.has(tag)) continue;
      this.tags.delete(tag);
      vanished.push([tag, digest]);
    }
    for (const tag of this.unresolved) if (!listed.has(tag)) this.unresolved.delete(tag);
    const fresh = [...listed].filter((tag) => !this.tags.has(tag));
    if (fresh.length > 0)
      requests.push(
        `${bytes ? 'GET' : 'HEAD'} /v2/${repo}/manifests/<tag> for ${fresh.length === 1 ? `the new tag ${fresh[0]}` : `each of ${fresh.length} new tags`}`,
      );
    const added: Array<[string, string]> = [];
    const dangling: Array<[string, string]> = [];
    await Promise.all(
      fresh.map(async (tag) => {
        let digest: string | undefined;
        if (bytes) {
          const fetched = await fetchTag(this.#client, repo, tag, signal);
          if (fetched) bytes.set(fetched.digest, fetched);
          digest = fetched?.digest;
        } else {
          // Resolved while a DELETE was in flight: reused unless it named that DELETE's image
          // (whose state the DELETE changed since).
          const before = early?.resolutions.get(tag);
          let resolution = before ? await before : undefined;
          if (!before || resolution === undefined || early?.changed.has(resolution.digest))
            resolution = await resolveFully(this.#client, repo, tag, signal);
          if (resolution && !resolution.present) dangling.push([tag, resolution.digest]);
          digest = resolution?.present ? resolution.digest : undefined;
        }
        if (digest === undefined) {
          this.unresolved.add(tag);
          return;
        }
        this.unresolved.delete(tag);
        this.tags.set(tag, digest);
        added.push([tag, digest]);
      }),
    );
    added.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    this.reads++;
    this.fresh = true;
    return { added, vanished, dangling, listed, requests };
  }

  /** Bare tags that point at `digest` as last read. */
  tagsAt(digest: string): string[] {
    const out: string[] = [];
    for (const [tag, d] of this.tags) if (d === digest) out.push(tag);
    return out.sort();
  }
}
