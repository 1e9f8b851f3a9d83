/**
 * The stale-plan re-check's view of one repository's tags during `applyPlan`: read in full once
 * (a GET of every tag) before the repository's first DELETE, then kept current by the tag lists
 * sent around each DELETE (`apply/tag-poller.ts`). distribution's tag list gives names only, so a
 * name is resolved when it is first seen; a known name keeps the digest it had then.
 */
import type { RegistryClient } from './client.js';
import { RegistryHttpError } from './errors/registry-http-error.js';
import type { FetchedManifest } from './types.js';

/**
 * How often a read answering 500 is sent again, and the first pause (doubled each time):
 * distribution 2.8 truncates a tag's link file while a PUT writes it, and a read then answers
 * 500 UNKNOWN; the push finishes within milliseconds.
 */
const READ_500_RETRIES = 4;
const READ_500_PAUSE_MS = 10;

/** How often {@link lookupTag} reads a listed name again that answered a plain 404, and the first pause. */
const LISTED_404_RETRIES = 4;
const LISTED_404_PAUSE_MS = 5;

/**
 * What a tag points at: `present` when its manifest answers, else the digest the registry names
 * for a tag left pointing at nothing (see {@link RegistryClient.tagTarget}); `undefined`
 * when it points at nothing the registry names.
 */
export type Resolution = { digest: string; present: boolean } | undefined;

/**
 * One GET of a tag (read again on 500): for a name seen in a tag list, one request that also
 * tells which digest a tag a DELETE just unlinked names.
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

async function retry500<T>(read: () => Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await read();
    } catch (error) {
      if (!(error instanceof RegistryHttpError) || error.status !== 500) throw error;
      if (attempt >= READ_500_RETRIES) throw error;
      await new Promise((r) => setTimeout(r, READ_500_PAUSE_MS * 2 ** attempt));
      signal?.throwIfAborted();
    }
  }
}

/** One repository's tags as last read (see the file comment). */
export class TagWatch {
  readonly repository: string;
  /** Bare tag → digest, as resolved when the name was first seen (or as regprune set it). */
  readonly tags = new Map<string, string>();
  /** Listed names that pointed at nothing when last resolved. */
  readonly unresolved = new Set<string>();
  /** Whether the full read was done. */
  read = false;
  readonly #client: RegistryClient;

  constructor(client: RegistryClient, repository: string) {
    this.#client = client;
    this.repository = repository;
  }

  /**
   * The full read: lists the tags and GETs every one, keeping each manifest in `bytes` by digest
   * (the apply needs the bytes of the planned images anyway).
   * @returns the names found, with the digest each points at.
   */
  async readAll(
    bytes: Map<string, FetchedManifest>,
    signal?: AbortSignal,
  ): Promise<Array<[tag: string, digest: string]>> {
    const repo = this.repository;
    const listed = await this.#client.listTags(repo, { signal });
    const added: Array<[string, string]> = [];
    await Promise.all(
      listed.map(async (tag) => {
        const fetched = await retry500(
          () => this.#client.getManifest(repo, tag, { signal }),
          signal,
        );
        if (!fetched) {
          this.unresolved.add(tag);
          return;
        }
        bytes.set(fetched.digest, fetched);
        this.tags.set(tag, fetched.digest);
        added.push([tag, fetched.digest]);
      }),
    );
    added.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    this.read = true;
    return added;
  }

  /** Bare tags that point at `digest` as last read. */
  tagsAt(digest: string): string[] {
    const out: string[] = [];
    for (const [tag, d] of this.tags) if (d === digest) out.push(tag);
    return out.sort();
  }
}
