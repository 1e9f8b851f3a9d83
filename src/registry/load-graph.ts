import type { ImageGraph } from '../core/image-graph.js';
import { digestOfImage, repositoryOfImage } from '../core/naming.js';
import { buildGraph } from './build-graph.js';
import type { RegistryClient } from './client.js';
import { globMatcher, isGlob } from './glob.js';
import { type LoadCounters, Loader } from './loader.js';
import { checkDigest, checkRepository } from './reference.js';

/** A load progress event: counters so far. */
export interface LoadProgress extends LoadCounters {
  phase: 'repositories' | 'tags' | 'manifests' | 'dates' | 'done';
}

/** Options of {@link loadGraph}. */
export interface LoadGraphOptions {
  /** Repository names or globs (`team/*`, `team/**`). Default: every repository in the catalog. */
  repositories?: readonly string[];
  /** Called as counters change. */
  onProgress?: (event: LoadProgress) => void;
  signal?: AbortSignal;
  /** Read config blobs for `created` (needed by age- and newest-based policies). Default `false`. */
  dates?: boolean;
  /**
   * Untagged manifests to include, as `repo@sha256:…`. The OCI API cannot list untagged manifests,
   * so only these (and what tags reach) are seen. Ones the registry no longer has are ignored.
   */
  extraDigests?: readonly string[];
}

/** Resolves the repository list: names as given, globs against the catalog. */
export async function resolveRepositories(
  client: RegistryClient,
  patterns: readonly string[] | undefined,
  signal?: AbortSignal,
): Promise<string[]> {
  if (patterns && !patterns.some(isGlob)) {
    return [...new Set(patterns.map((p) => checkRepository(p, 'repositories option')))].sort();
  }
  const catalog = await client.catalog({ signal });
  if (!patterns) return [...catalog].sort();
  const matchers = patterns.map(globMatcher);
  return catalog.filter((name) => matchers.some((m) => m(name))).sort();
}

/**
 * Loads the registry (or the chosen repositories) into an {@link ImageGraph}: images
 * `repo@sha256:…` with blobs and sizes, tags `repo:tag`, index children, referrers (API, fallback
 * tag `sha256-<hex>`, `subject` fields, cosign-style `sha256-<hex>.sig|.att|.sbom` tags as
 * attachments of their subject) and base images (`org.opencontainers.image.base.digest`) as
 * parents. One manifest GET per tag, one per further unique manifest, config blobs only with
 * `dates`. Never returns a partial graph: any failure rejects (and stops the other requests).
 *
 * @example
 * ```ts
 * const graph = await loadGraph(client, { repositories: ['team/**'], dates: true });
 * const plan = planCleanup(graph, (tag) => tag.endsWith(':latest'));
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
    phase = 'manifests';
    await loader.probeReferrers();
    for (const repo of repositories) loader.expandTagged(repo);
    for (const extra of options.extraDigests ?? []) {
      const repo = checkRepository(repositoryOfImage(extra), 'extraDigests');
      checkDigest(digestOfImage(extra), 'extraDigests');
      loader.want(repo, digestOfImage(extra));
    }
    await failFast(controller, [loader.drain()]);
    if (options.dates) {
      phase = 'dates';
      await failFast(controller, [loader.loadDates()]);
    }
    const graph = buildGraph(loader);
    phase = 'done';
    options.onProgress?.({ phase, ...structuredClone(loader.counters) });
    return graph;
  } finally {
    outer?.removeEventListener('abort', onAbort);
  }
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
