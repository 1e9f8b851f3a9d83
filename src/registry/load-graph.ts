import type { ImageGraph } from '../core/image-graph.js';
import { digestOfImage, repositoryOfImage } from '../core/naming.js';
import { isRepositoryGlob, repositorySelector } from '../core/oci/repository-glob.js';
import type { LoadProgress } from '../core/target.js';
import { buildGraph } from './build-graph.js';
import type { RegistryClient } from './client.js';
import { StorageRootError } from './errors/storage-root-error.js';
import { firstSeenOf, type PreviousImages, previousImageIds } from './inventory.js';
import { Loader } from './loader.js';
import { wantPlatformVersions } from './platform/load-versions.js';
import { checkDigest, checkRepository } from './reference.js';
import { readStoredManifests } from './storage/read-storage.js';

export type { LoadProgress } from '../core/target.js';

/** Options of {@link loadGraph}. */
export interface LoadGraphOptions {
  /**
   * Repository names or globs (`team/*`, `team/**`; `*` and `?` within a segment, `**` as a whole
   * segment). Default: every repository in the catalog (required where a platform API lists
   * repositories, e.g. ghcr.io: globs start with a literal owner, `my-org/**`). A glob outside that
   * grammar (`team/[ab]`, `team/a**b`) rejects with `InvalidGlobError` before any request.
   */
  repositories?: readonly string[];
  /** Called as counters change. */
  onProgress?: (event: LoadProgress) => void;
  signal?: AbortSignal;
  /** Read config blobs for `created` (needed by age- and newest-based policies). Default `false`. */
  dates?: boolean;
  /**
   * Untagged manifests to include, as `repo@sha256:…`. The OCI API cannot list untagged manifests,
   * so only these, `storage`, `previous` and what tags reach are seen. Ones the registry no longer
   * has are ignored.
   */
  extraDigests?: readonly string[];
  /**
   * Storage of a self-hosted registry on the filesystem driver (its `rootdirectory`, e.g.
   * `/var/lib/registry`, or the `docker/registry/v2` folder in it), read only. Every manifest
   * revision stored for the loaded repositories is loaded through the API (so digests are verified)
   * and the ones no tag reaches become untagged images; revisions the registry no longer serves
   * (deleted through the API) are left out. Nothing is written. Default: not read.
   * `loadGraph` rejects with `StorageRootError` when the folder is not a registry storage, or holds
   * none of the manifests the loaded repositories' tags point at (another registry's storage).
   */
  storage?: string;
  /**
   * The images an earlier run saw (its graph, `toJSON()` snapshot or `readInventory` result).
   * Each one in a loaded repository that no tag reaches any more is checked with a `HEAD` by digest
   * and, when the registry still has it, loaded as an untagged image. Works with any registry.
   * An inventory also gives pushed times (`ImageInfo.pushed`, for `age: pushed`): each image gets
   * the time a run first saw it, and images it does not list get `seenAt`. The storage folder's
   * times win over these.
   */
  previous?: PreviousImages;
  /**
   * The time of this run, recorded as the pushed time of images a `previous` inventory does not
   * list (this run is the first to see them). Pass the same time as `writeInventory`'s `now`.
   * Default: when the load started.
   */
  seenAt?: Date;
}

/**
 * Resolves the repository list: names as given, globs (the core's one grammar) against the catalog.
 * @throws {InvalidGlobError} before any request, for a glob the grammar refuses.
 */
export async function resolveRepositories(
  client: RegistryClient,
  patterns: readonly string[] | undefined,
  signal?: AbortSignal,
): Promise<string[]> {
  const selects = patterns && repositorySelector(patterns);
  if (patterns && !patterns.some(isRepositoryGlob)) {
    return [...new Set(patterns.map((p) => checkRepository(p, 'repositories option')))].sort();
  }
  // Hosted registries serve no catalog; their platform lists the packages of each owner.
  if (client.platform) return client.platform.listRepositories(patterns ?? [], { signal });
  const catalog = await client.catalog({ signal });
  if (!selects) return [...catalog].sort();
  return catalog.filter(selects).sort();
}

/**
 * Loads the registry (or the chosen repositories) into an {@link ImageGraph}: images
 * `repo@sha256:…` with blobs and sizes, tags `repo:tag`, index children, referrers (API, fallback
 * tag `sha256-<hex>`, `subject` fields, cosign-style `sha256-<hex>.sig|.att|.sbom` tags as
 * attachments of their subject) and base images (`org.opencontainers.image.base.digest`) as
 * parents, found by repository and digest when `base.name` names this registry in any spelling of
 * its host. One manifest GET per tag, one per further unique manifest, config blobs only with
 * `dates`. Never returns a partial graph: any failure rejects (and stops the other requests).
 *
 * Content it cannot fully use does not fail the load: a manifest of an unknown media type is an
 * opaque image (always kept); an invalid or unresolvable base digest, an index whose children
 * answer 404 and a tag whose manifest answers 404 become plan warnings.
 *
 * Untagged manifests are invisible over the OCI API; `storage` (a self-hosted registry's storage
 * folder) and `previous` (what an earlier run saw) make them visible, and `extraDigests` names them
 * one by one. All three are loaded and verified through the API like everything else.
 *
 * @example
 * ```ts
 * const graph = await loadGraph(client, { repositories: ['team/**'], dates: true });
 * const plan = planCleanup(graph, (tag) => tag.endsWith(':latest'));
 *
 * // with untagged manifests, from the storage folder or from the last run's state file
 * const withStorage = await loadGraph(client, { storage: '/var/lib/registry' });
 * const previous = await readInventory('state.json', { registry: client.host });
 * const withMemory = await loadGraph(client, { previous });
 * ```
 */
export async function loadGraph(
  client: RegistryClient,
  options: LoadGraphOptions = {},
): Promise<ImageGraph> {
  const controller = new AbortController();
  const outer = options.signal;
  const onAbort = () => controller.abort(outer?.reason);
  if (outer?.aborted) throw outer.reason;
  outer?.addEventListener('abort', onAbort, { once: true });
  const started = options.seenAt ?? new Date();
  let phase: LoadProgress['phase'] = 'repositories';
  const loader: Loader = new Loader(client, controller.signal, () =>
    options.onProgress?.({ phase, ...structuredClone(loader.counters) }),
  );
  try {
    const repositories = await resolveRepositories(client, options.repositories, controller.signal);
    loader.counters.repositories.total = repositories.length;
    for (const repo of repositories) loader.data(repo);
    phase = 'tags';
    await failFast(
      controller,
      repositories.map((repo) => loader.readTags(repo)),
    );
    // Read after the tags, so a manifest tagged while we listed is in the storage too.
    const stored =
      options.storage === undefined
        ? undefined
        : await storedDigests(options.storage, loader, repositories, controller.signal);
    phase = 'manifests';
    await loader.probeReferrers();
    for (const repo of repositories) loader.expandTagged(repo);
    for (const extra of options.extraDigests ?? []) {
      const repo = checkRepository(repositoryOfImage(extra), 'extraDigests');
      checkDigest(digestOfImage(extra), 'extraDigests');
      loader.want(repo, digestOfImage(extra));
    }
    // Tagged ones are loaded already; `want` fetches only what nothing reached, and leaves out
    // what the registry no longer has (a 404), so an image `previous` saw costs one GET at most.
    for (const [repo, digest] of stored?.pairs ?? []) loader.want(repo, digest);
    if (client.platform)
      await wantPlatformVersions(client.platform, loader, repositories, controller.signal);
    if (options.previous) {
      const loaded = new Set(repositories);
      for (const id of previousImageIds(options.previous)) {
        const repo = checkRepository(repositoryOfImage(id), 'previous');
        const digest = checkDigest(digestOfImage(id), 'previous');
        if (loaded.has(repo)) loader.want(repo, digest);
      }
    }
    await failFast(controller, [loader.drain()]);
    if (options.dates) {
      phase = 'dates';
      await failFast(controller, [loader.loadDates()]);
    }
    const graph = buildGraph(loader);
    setPushedTimes(graph, stored?.pushed, firstSeenOf(options.previous), started);
    phase = 'done';
    options.onProgress?.({ phase, ...structuredClone(loader.counters) });
    return graph;
  } finally {
    outer?.removeEventListener('abort', onAbort);
  }
}

/**
 * Fills `pushed` of every image a platform API gave none: the storage's revision link time where
 * there is one, else the first sighting an inventory recorded, else (with an inventory) this
 * run's time.
 */
function setPushedTimes(
  graph: ImageGraph,
  stored: ReadonlyMap<string, string> | undefined,
  firstSeen: ((id: string) => string | undefined) | undefined,
  seenAt: Date,
): void {
  if (!stored && !firstSeen) return;
  const now = seenAt.toISOString();
  for (const id of graph.images()) {
    if (graph.imageInfo(id)?.pushed !== undefined) continue;
    const pushed = stored?.get(id) ?? (firstSeen ? (firstSeen(id) ?? now) : undefined);
    if (pushed !== undefined) graph.addImage(id, { pushed });
  }
}

/**
 * `[repo, digest]` of every manifest revision stored for `repositories`, and when each was pushed.
 * @throws {StorageRootError} when the storage holds none of the tagged manifests: it belongs to
 *   another registry, and reading it would silently find nothing.
 */
async function storedDigests(
  dir: string,
  loader: Loader,
  repositories: readonly string[],
  signal: AbortSignal,
): Promise<{ pairs: Array<[string, string]>; pushed: Map<string, string> }> {
  const stored = await readStoredManifests(dir, { repositories, signal });
  const pairs: Array<[string, string]> = [];
  for (const [repo, digests] of stored.repositories) {
    for (const digest of digests) pairs.push([repo, digest]);
  }
  let sample: string | undefined;
  let tagged = 0;
  let matched = 0;
  for (const repo of repositories) {
    const data = loader.repos.get(repo);
    const have = new Set(stored.repositories.get(repo));
    for (const [tag, digest] of data?.tags ?? []) {
      tagged++;
      if (have.has(digest)) matched++;
      else sample ??= `${repo}:${tag} → ${digest}`;
    }
  }
  if (tagged > 0 && matched === 0) {
    throw new StorageRootError(
      dir,
      `holds none of the ${tagged} manifests that tags of ${loader.host} point at (e.g. ${sample})`,
      { hint: 'pass the storage folder of the registry being loaded' },
    );
  }
  return { pairs, pushed: stored.pushed };
}

/** Awaits all; on the first failure aborts the rest so no request outlives the load. */
async function failFast(controller: AbortController, work: Promise<unknown>[]): Promise<void> {
  try {
    await Promise.all(work);
  } catch (error) {
    controller.abort(error);
    await Promise.allSettled(work);
    throw error;
  }
}
