/** Fallback-index rewrites an interrupted run left half done, finished. */

import type { ImageGraph } from '../../core/image-graph.js';
import {
  digestOfImage,
  imageId,
  repositoryOfImage,
  repositoryOfTag,
  tagId,
  tagName,
} from '../../core/naming.js';
import type { CleanupPlan } from '../../core/plan-types.js';
import { recheckPlan } from '../../core/recheck.js';
import type { OperationOutcome } from '../../core/target.js';
import { buildGraph } from '../build-graph.js';
import type { RegistryClient } from '../client.js';
import type { JournalIntent } from '../journal.js';
import { Loader } from '../loader.js';
import { manifestRequest, tagListRequest } from '../requests.js';
import { endEarlier } from './journal-intents.js';
import { type ApplyJournal, ignoredNote } from './journal-open.js';

/** The fallback tags (`repo:sha256-<hex>`) `plan` may rewrite: of its deletions and their subjects. */
export function plannedRewrites(plan: CleanupPlan, graph: ImageGraph): Set<string> {
  const out = new Set<string>();
  for (const op of plan.delete) {
    const repo = repositoryOfImage(op.image);
    for (const subject of [op.image, ...graph.targetsOf(op.image, 'referrer')])
      out.add(tagId(repo, digestOfImage(subject).replace(':', '-')));
  }
  return out;
}

/**
 * Why the old index an interrupted rewrite left must not be deleted now (`undefined`: it may).
 * A real old fallback index is no image of the graph (the loader keeps fallback indexes apart),
 * and no current tag points at it; anything else is a journal that was edited.
 */
export async function oldIndexInUse(
  client: RegistryClient,
  plan: CleanupPlan,
  graph: ImageGraph,
  intent: JournalIntent,
  signal: AbortSignal | undefined,
): Promise<string | undefined> {
  const repo = intent.repository;
  const old = imageId(repo, intent.digest);
  const loader = new Loader(client, signal ?? new AbortController().signal, () => {}, graph);
  await loader.readTags(repo, true);
  await loader.drain();
  const current = loader.data(repo);
  const tagged = [...current.tags].filter(([, d]) => d === intent.digest).map(([t]) => t);
  if (tagged.length > 0) return `${tagId(repo, tagged.sort()[0] as string)} points at ${old}`;
  const checkGraph = buildGraph(loader, graph.clone());
  if (!graph.hasImage(old) && !checkGraph.hasImage(old)) return undefined;
  // An image: what the stale-plan re-check says about deleting it now, as the usual path asks.
  const roots: Array<[string, string]> = [];
  for (const [tag, digest] of current.tags) {
    const image = imageId(repo, digest);
    if (checkGraph.hasImage(image)) roots.push([tagId(repo, tag), image]);
  }
  for (const tag of plan.keptTags) {
    const target = graph.tagTarget(tag);
    if (repositoryOfTag(tag) !== repo && target) roots.push([tag, target]);
  }
  const probe = { image: old, wave: 0, tags: [] };
  const recheck = recheckPlan(checkGraph, { ...plan, delete: [probe] }, roots);
  const skipped = recheck.skip[0];
  if (skipped) return skipped.reason;
  return plan.keep.some((k) => k.image === old)
    ? `the plan keeps ${old}`
    : `${old} is an image, not an old fallback index`;
}

/**
 * Finishes fallback-index rewrites an earlier run left between its two requests: the new index is
 * on the tag but the old one was not yet deleted. Only rewrites of the plan's own fallback tags
 * are finished, and only where the old index is no image and no current tag points at it. Returns
 * an outcome for each resumed rewrite; records of other tags are noted and ignored.
 */
export async function finishInterruptedRewrites(
  client: RegistryClient,
  journal: ApplyJournal,
  plan: CleanupPlan,
  graph: ImageGraph,
  signal: AbortSignal | undefined,
): Promise<OperationOutcome[]> {
  const outcomes: OperationOutcome[] = [];
  const planned = plannedRewrites(plan, graph);
  for (const intent of journal.unfinished.values()) {
    // Only an index no other tag shared was to be deleted after the rewrite.
    if (intent.action !== 'rewrite' || !intent.replacement || intent.tags.length !== 1) continue;
    if (!planned.has(intent.id)) {
      journal.notes.push(ignoredNote(intent));
      continue;
    }
    const tag = tagName(intent.id);
    const repo = intent.repository;
    const requests = [manifestRequest('HEAD', repo, tag)];
    const now = await client.resolve(repo, tag, { signal });
    if (now !== intent.replacement || intent.digest === intent.replacement) continue;
    requests.push(tagListRequest(repo), `HEAD /v2/${repo}/manifests/<tag> for each tag`);
    const inUse = await oldIndexInUse(client, plan, graph, intent, signal);
    if (inUse) {
      outcomes.push({
        action: 'rewrite',
        id: intent.id,
        status: 'skipped',
        reason: `an interrupted earlier run's rewrite (undo journal record ${intent.seq}) was not finished: its old index ${imageId(repo, intent.digest)} is not deleted, because ${inUse}`,
        requests,
      });
      continue;
    }
    requests.push(manifestRequest('DELETE', repo, intent.digest));
    await client.deleteManifest(repo, intent.digest, { signal });
    await endEarlier(journal, intent);
    outcomes.push({
      action: 'rewrite',
      id: intent.id,
      status: 'done',
      reason: `finished an interrupted earlier run's rewrite (undo journal): deleted the old index ${imageId(repo, intent.digest)}`,
      requests,
    });
  }
  return outcomes;
}
