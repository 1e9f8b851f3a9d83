/**
 * What a plan frees, in files: the config and layer blobs only deleted images needed
 * (`plan.blobs`, `plan.reclaimableBytes`) and the deleted manifests themselves, which are blobs too
 * (a layout removes their files; a registry's garbage collection frees them). A plan counts only
 * the first; this adds the second from the graph, so the figure people read is what apply removes.
 */
import type { ImageGraph } from './image-graph.js';
import { digestOfImage } from './naming.js';
import type { CleanupPlan } from './plan-types.js';

/** A plan's reclaimable files and bytes, split by kind. */
export interface ReclaimableTotal {
  /** Config and layer blobs (`plan.blobs.length`) and their known bytes (`plan.reclaimableBytes`). */
  blobs: number;
  blobBytes: number;
  /** Manifests and indexes of deleted images whose digest no kept image shares, with known sizes. */
  manifests: number;
  manifestBytes: number;
  /** Both together. */
  files: number;
  bytes: number;
}

/**
 * The files and bytes `plan` frees. Without `graph` (or when the graph knows no manifest sizes)
 * only the plan's blobs are counted. Garbage that was there before the plan is not counted: the
 * plan never saw it (a layout apply removes it too and says so).
 */
export function reclaimableTotal(plan: CleanupPlan, graph?: ImageGraph): ReclaimableTotal {
  let manifests = 0;
  let manifestBytes = 0;
  if (graph) {
    const stays = new Set(plan.keep.map((entry) => digestOfImage(entry.image)));
    for (const blob of plan.blobs) stays.add(blob.id);
    for (const op of plan.delete) {
      const digest = digestOfImage(op.image);
      const size = graph.hasImage(op.image) ? graph.imageInfo(op.image)?.size : undefined;
      if (size === undefined || stays.has(digest)) continue;
      stays.add(digest); // the same manifest in two repositories is one blob
      manifests++;
      manifestBytes += size;
    }
  }
  return {
    blobs: plan.blobs.length,
    blobBytes: plan.reclaimableBytes,
    manifests,
    manifestBytes,
    files: plan.blobs.length + manifests,
    bytes: plan.reclaimableBytes + manifestBytes,
  };
}
