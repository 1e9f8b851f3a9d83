import { classifyTag } from '../core/attachments.js';
import type { ImageGraph } from '../core/image-graph.js';
import { imageId } from '../core/naming.js';
import { BASE_DIGEST, BASE_NAME } from '../core/oci/annotations.js';
import type { Platform } from '../core/types.js';
import { baseRepository } from './base-image.js';
import type { RegistryClient } from './client.js';
import { MalformedManifestError } from './errors/malformed-manifest-error.js';
import { type Descriptor, type ParsedManifest, parseManifest } from './manifest.js';
import { CONFIG_LIMIT, IMAGE_CONFIG_TYPES } from './media-types.js';
import { isDigest } from './reference.js';

/** A manifest as loaded. */
export interface LoadedManifest {
  parsed: ParsedManifest;
  size: number;
  mediaType: string;
}

/** What was read from one repository. */
export interface RepositoryData {
  repository: string;
  /** Bare tag → digest, for every tag (attachments included). */
  tags: Map<string, string>;
  manifests: Map<string, LoadedManifest>;
  /** Platform of a manifest as an index lists it. */
  platforms: Map<string, Platform>;
  /** Referrer digest → subject digests, from the referrers API and fallback indexes. */
  referrerOf: Map<string, Set<string>>;
  /** Artifact type of a referrer as its listing says. */
  artifactTypes: Map<string, string>;
  /** Subject digest → digest of its fallback index (which is not an image of the graph). */
  fallbackIndexes: Map<string, string>;
  /** Fallback index digest → its entries. */
  fallbackEntries: Map<string, Descriptor[]>;
  /** Bare tags `tags/list` named whose manifest answered 404 (left by an interrupted DELETE). */
  danglingTags: Set<string>;
}

/** Load progress counters. */
export interface LoadCounters {
  repositories: { done: number; total: number };
  tags: { done: number; total: number };
  manifests: { done: number; total: number };
}

// The annotation names live in the core; re-exported for build-graph.
export { BASE_DIGEST, BASE_NAME, CREATED } from '../core/oci/annotations.js';

/**
 * Deepest index nesting regprune follows. Real images nest one or two levels; a deeper chain is a
 * hostile or broken registry making the client fetch without end.
 */
const MAX_INDEX_DEPTH = 16;

/**
 * Reads repositories into plain data with as few requests as possible: one manifest GET per tag,
 * then one GET per unique digest that something references (index children, fallback-index
 * entries, referrers, untagged base images), and config blobs only when dates are wanted. Work is
 * queued, not awaited recursively, so references in any shape cannot deadlock.
 */
export class Loader {
  readonly repos = new Map<string, RepositoryData>();
  readonly counters: LoadCounters = {
    repositories: { done: 0, total: 0 },
    tags: { done: 0, total: 0 },
    manifests: { done: 0, total: 0 },
  };
  /** `repo@digest` → when it was pushed, where a platform API says (GHCR's `created_at`). */
  readonly pushed = new Map<string, string>();
  /** Config digest → created date (or null). */
  readonly created = new Map<string, string | null>();
  readonly #client: RegistryClient;
  /** The caller's signal, or this loader's own abort on the first failure. */
  readonly #signal: AbortSignal;
  readonly #abort = new AbortController();
  /** The first failure of any queued task; every later one is a consequence of the abort. */
  #failure: { error: unknown } | undefined;
  readonly #known: ImageGraph | undefined;
  readonly #progress: () => void;
  #tasks: Promise<void>[] = [];
  readonly #wanted = new Set<string>();
  /** `repo@digest` whose referrers were already listed through the API. */
  readonly #listed = new Set<string>();
  /** `repo@digest` → how many indexes above it (0 for what tags name). */
  readonly #depth = new Map<string, number>();

  constructor(
    client: RegistryClient,
    signal: AbortSignal,
    progress: () => void,
    /** Images already known (apply-time re-check): not fetched again. */
    known?: ImageGraph,
  ) {
    this.#client = client;
    this.#signal = AbortSignal.any([signal, this.#abort.signal]);
    this.#progress = progress;
    this.#known = known;
  }

  /** `host:port` of the registry. */
  get host(): string {
    return this.#client.host;
  }

  data(repository: string): RepositoryData {
    let data = this.repos.get(repository);
    if (!data) {
      data = {
        repository,
        tags: new Map(),
        manifests: new Map(),
        platforms: new Map(),
        referrerOf: new Map(),
        artifactTypes: new Map(),
        fallbackIndexes: new Map(),
        fallbackEntries: new Map(),
        danglingTags: new Set(),
      };
      this.repos.set(repository, data);
    }
    return data;
  }

  /**
   * Lists the repository's tags and resolves each: with a GET (load) or, when `head`, a HEAD and a
   * GET only for digests not already known.
   */
  async readTags(repository: string, head = false): Promise<void> {
    try {
      await this.#readTags(repository, head);
    } catch (error) {
      // Work `want` queued meanwhile stops too; the caller gets this error, not a later one.
      this.#fail(error);
      throw error;
    }
  }

  async #readTags(repository: string, head: boolean): Promise<void> {
    const data = this.data(repository);
    const tags = await this.#client.listTags(repository, { signal: this.#signal });
    this.counters.tags.total += tags.length;
    this.#progress();
    await Promise.all(
      tags.map(async (tag) => {
        if (head) {
          const digest = await this.#client.resolve(repository, tag, { signal: this.#signal });
          if (digest) {
            data.tags.set(tag, digest);
            // Fallback indexes are not images; the apply step reads them itself when it must.
            if (classifyTag(tag).kind !== 'fallback') this.want(repository, digest);
          }
        } else {
          const fetched = await this.#client.getManifest(repository, tag, { signal: this.#signal });
          // A tag removed while we read is not there any more; one still listed is reported.
          if (!fetched) data.danglingTags.add(tag);
          else {
            data.tags.set(tag, fetched.digest);
            this.#wanted.add(`${repository}@${fetched.digest}`);
            if (!data.manifests.has(fetched.digest)) {
              this.counters.manifests.total++;
              this.#record(data, fetched.digest, fetched.bytes, fetched.mediaType);
              this.counters.manifests.done++;
            }
          }
        }
        this.counters.tags.done++;
        this.#progress();
      }),
    );
    this.counters.repositories.done++;
    this.#progress();
  }

  /**
   * Asks the referrers API once (for the first manifest read) whether it exists; with it, every
   * manifest's referrers are listed, without it the fallback tags are all there is.
   */
  async probeReferrers(): Promise<void> {
    if (this.#client.referrersApi !== undefined) return;
    for (const data of this.repos.values()) {
      const first = data.manifests.keys().next();
      if (first.done) continue;
      this.#listed.add(`${data.repository}@${first.value}`);
      const list = await this.#client.listReferrers(data.repository, first.value, {
        signal: this.#signal,
      });
      for (const entry of list ?? []) this.#addReferrer(data, entry, first.value);
      return;
    }
  }

  /** After all tags are read: queues what tagged manifests reference. */
  expandTagged(repository: string): void {
    const data = this.data(repository);
    for (const [digest, loaded] of [...data.manifests]) this.#expand(data, digest, loaded.parsed);
    for (const [tag, digest] of data.tags) {
      const kind = classifyTag(tag);
      if (kind.kind === 'plain') continue;
      // An attachment's subject may be untagged: load it so the attachment follows it.
      this.want(repository, kind.subject);
      if (kind.kind === 'fallback') this.#expandFallback(data, tag, digest);
    }
  }

  /** Queues a digest of `repository` for loading (once). */
  want(repository: string, digest: string): void {
    const key = imageId(repository, digest);
    if (this.#wanted.has(key)) return;
    this.#wanted.add(key);
    if (this.#known?.hasImage(key)) return;
    const data = this.data(repository);
    if (data.manifests.has(digest)) return;
    this.counters.manifests.total++;
    this.#queue(async () => {
      const fetched = await this.#client.getManifest(repository, digest, {
        signal: this.#signal,
      });
      this.counters.manifests.done++;
      this.#progress();
      // Missing references (a stale fallback entry, a child another tool deleted) hold nothing
      // to protect; they are left out.
      if (!fetched) return;
      const parsed = this.#record(data, digest, fetched.bytes, fetched.mediaType);
      this.#expand(data, digest, parsed);
    });
  }

  /**
   * Runs queued work until none is left.
   * @throws the first error of any queued task (the others were aborted and have settled).
   */
  async drain(): Promise<void> {
    while (this.#tasks.length > 0) {
      const batch = this.#tasks;
      this.#tasks = [];
      await Promise.all(batch);
    }
    if (this.#failure) throw this.#failure.error;
  }

  /**
   * Starts `work` now and handles its failure now: a task may fail long before `drain` awaits it
   * (while a sibling is slow), and a rejection nobody handles yet ends the Node process.
   */
  #queue(work: () => Promise<void>): void {
    if (this.#failure) return;
    this.#tasks.push(
      (async () => {
        this.#signal.throwIfAborted();
        await work();
      })().catch((error: unknown) => this.#fail(error)),
    );
  }

  /** Records the first failure and aborts every request still out. */
  #fail(error: unknown): void {
    if (this.#failure) return;
    this.#failure = { error };
    this.#abort.abort(error);
  }

  /** Fetches config blobs (once per digest) for `created`. */
  async loadDates(): Promise<void> {
    const jobs: Promise<void>[] = [];
    for (const data of this.repos.values()) {
      for (const loaded of data.manifests.values()) {
        const config = loaded.parsed.config;
        if (!config || !IMAGE_CONFIG_TYPES.has(config.mediaType) || this.created.has(config.digest))
          continue;
        this.created.set(config.digest, null);
        jobs.push(
          (async () => {
            const bytes = await this.#client.getBlob(data.repository, config.digest, CONFIG_LIMIT, {
              signal: this.#signal,
            });
            if (!bytes) return;
            try {
              const body = JSON.parse(new TextDecoder().decode(bytes)) as { created?: unknown };
              if (typeof body.created === 'string') this.created.set(config.digest, body.created);
            } catch {
              // A config that is not JSON has no date; the policy reports unknown dates.
            }
          })(),
        );
      }
    }
    await Promise.all(jobs);
  }

  #record(
    data: RepositoryData,
    digest: string,
    bytes: Uint8Array,
    contentType: string,
  ): ParsedManifest {
    const parsed = parseManifest(bytes, contentType, data.repository, digest);
    data.manifests.set(digest, { parsed, size: bytes.length, mediaType: parsed.mediaType });
    return parsed;
  }

  #expand(data: RepositoryData, digest: string, parsed: ParsedManifest): void {
    const depth = (this.#depth.get(imageId(data.repository, digest)) ?? 0) + 1;
    if (parsed.manifests.length > 0 && depth > MAX_INDEX_DEPTH)
      throw new MalformedManifestError(
        data.repository,
        digest,
        `indexes nest deeper than ${MAX_INDEX_DEPTH} levels below a tag`,
      );
    for (const child of parsed.manifests) {
      const childKey = imageId(data.repository, child.digest);
      if (!this.#depth.has(childKey)) this.#depth.set(childKey, depth);
      if (child.platform && !data.platforms.has(child.digest))
        data.platforms.set(child.digest, child.platform);
      this.want(data.repository, child.digest);
    }
    // Only a valid digest is fetched: `latest` would be read as a tag, `sha256:zz` fail the load.
    const base = parsed.kind === 'opaque' ? undefined : parsed.annotations?.[BASE_DIGEST];
    if (base && isDigest(base)) {
      const repo = baseRepository(
        parsed.annotations?.[BASE_NAME],
        data.repository,
        this.#client.host,
      );
      if (repo && (this.repos.has(repo) || repo === data.repository)) this.want(repo, base);
    }
    const key = `${data.repository}@${digest}`;
    if (this.#client.referrersApi === true && !this.#listed.has(key)) {
      this.#listed.add(key);
      this.#queue(async () => {
        const list = await this.#client.listReferrers(data.repository, digest, {
          signal: this.#signal,
        });
        for (const entry of list ?? []) this.#addReferrer(data, entry, digest);
      });
    }
  }

  #expandFallback(data: RepositoryData, tag: string, indexDigest: string): void {
    const subject = classifyTag(tag);
    if (subject.kind !== 'fallback') return;
    const loaded = data.manifests.get(indexDigest);
    if (loaded?.parsed.kind !== 'index') return;
    data.fallbackIndexes.set(subject.subject, indexDigest);
    data.fallbackEntries.set(indexDigest, loaded.parsed.manifests);
    for (const entry of loaded.parsed.manifests) this.#addReferrer(data, entry, subject.subject);
  }

  #addReferrer(data: RepositoryData, entry: Descriptor, subject: string): void {
    let set = data.referrerOf.get(entry.digest);
    if (!set) {
      set = new Set();
      data.referrerOf.set(entry.digest, set);
    }
    set.add(subject);
    if (entry.artifactType) data.artifactTypes.set(entry.digest, entry.artifactType);
    this.want(data.repository, entry.digest);
  }
}
