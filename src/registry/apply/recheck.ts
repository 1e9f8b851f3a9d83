/** The stale-plan re-check around DELETEs: tags read again, what they reach, manifests fetched ahead. */
import {
  blockedByRemainingPointers,
  classifyTag,
  isModeledAttachment,
  recheckRoots,
} from '../../core/attachments.js';
import {
  digestOfImage,
  imageId,
  repositoryOfImage,
  repositoryOfTag,
  tagId,
} from '../../core/naming.js';
import type { DeleteOperation } from '../../core/plan-types.js';
import { recheckPlan } from '../../core/recheck.js';
import { buildGraph } from '../build-graph.js';
import { Loader } from '../loader.js';
import type { FetchedManifest } from '../types.js';
import type { Context } from './context.js';

/** A planned deletion's manifest, fetched ahead of its DELETE. */
export interface Prefetch {
  result: Promise<FetchedManifest | undefined>;
  /** Whether `result` has settled (awaiting it then sends nothing and waits for nothing). */
  settled: boolean;
}

/**
 * Starts fetching the manifests of `ops` (once each): a tag pushed onto one while it is deleted is
 * pushed back from these bytes, and fetching them only then would stretch the time between the
 * last tag read and the DELETE.
 */
export function prefetch(
  ctx: Context,
  repo: string,
  ops: readonly DeleteOperation[],
  read: ReadonlyMap<string, FetchedManifest>,
): void {
  for (const op of ops) {
    if (ctx.bytes.has(op.image)) continue;
    const known = read.get(digestOfImage(op.image));
    if (known) {
      ctx.bytes.set(op.image, { result: Promise.resolve(known), settled: true });
      continue;
    }
    const entry: Prefetch = {
      result: ctx.client.getManifest(repo, digestOfImage(op.image), { signal: ctx.signal }),
      settled: false,
    };
    entry.result.then(
      () => {
        entry.settled = true;
      },
      () => {
        entry.settled = true;
      },
    );
    ctx.bytes.set(op.image, entry);
  }
}

/**
 * Adds to `ctx.saved` the planned deletions of `repo` that the tags in `added` (new since the
 * last read) reach, through every edge kind ({@link recheckPlan}); manifests the graph lacks are
 * loaded first. With `withOtherRepositories` (a repository's first read), the plan's kept tags
 * of other repositories count too.
 */
export async function recheckAdded(
  ctx: Context,
  repo: string,
  added: ReadonlyArray<readonly [string, string]>,
  withOtherRepositories = false,
): Promise<void> {
  const { client, graph, plan } = ctx;
  if (added.length > 0) {
    const loader = new Loader(
      client,
      ctx.signal ?? new AbortController().signal,
      () => {},
      ctx.checkGraph ?? graph,
    );
    const data = loader.data(repo);
    for (const [tag, digest] of added) {
      data.tags.set(tag, digest);
      // Fallback indexes are not images; the apply step reads them itself when it must.
      if (classifyTag(tag).kind !== 'fallback') loader.want(repo, digest);
    }
    await loader.drain();
    // The graph changes only with a new image or attachment: copied once, the first time.
    if (data.manifests.size > 0 || added.some(([tag]) => classifyTag(tag).kind === 'cosign')) {
      ctx.checkGraph ??= graph.clone();
      buildGraph(loader, ctx.checkGraph);
    }
  }
  const roots = recheckRoots(
    plan,
    added.map(([tag, digest]) => [tagId(repo, tag), imageId(repo, digest)] as const),
    (tag, image) => isModeledAttachment(graph, tag, image),
  );
  if (withOtherRepositories)
    for (const tag of plan.keptTags) {
      const target = graph.tagTarget(tag);
      if (repositoryOfTag(tag) !== repo && target) roots.push([tag, target]);
    }
  if (roots.length === 0) return;
  const { skip } = recheckPlan(
    ctx.checkGraph ?? graph,
    plan,
    roots,
    (image) => repositoryOfImage(image) === repo && !ctx.gone.has(image) && !ctx.saved.has(image),
  );
  for (const { op, reason } of skip) ctx.saved.set(op.image, reason);
}

/** The planned image pointing at `op`'s image that is still there (a pointer goes first). */
export function pointerLeft(ctx: Context, op: DeleteOperation): string | undefined {
  const { graph } = ctx;
  return blockedByRemainingPointers(
    [op.image],
    (image) => [
      ...graph.sourcesOf(image, 'parent'),
      ...graph.sourcesOf(image, 'child'),
      ...graph.sourcesOf(image, 'referrer'),
    ],
    (pointer) => ctx.planned.has(pointer) && !ctx.gone.has(pointer),
  ).get(op.image);
}
