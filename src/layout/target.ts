import { resolve } from 'node:path';
import { parsePlanFor } from '../core/plan-file.js';
import type { CleanupTarget } from '../core/target.js';
import { applyLayoutPlan } from './apply-plan.js';
import { loadLayoutGraph } from './load-graph.js';

/**
 * An OCI image layout as a {@link CleanupTarget}, so scripts and the CLI treat a layout and a
 * registry alike. `description` is `oci:<absolute dir>`, as plans record it. Loading reports one
 * progress event, `done`, with the image count as `manifests`; there is no `verify`.
 * @example
 * ```ts
 * const target = layoutTarget('./oci');
 * const plan = planCleanup(await target.loadGraph(), ['latest']);
 * await target.applyPlan(plan, { dryRun: true });
 * ```
 */
export function layoutTarget(dir: string): CleanupTarget {
  const absolute = resolve(dir);
  const description = `oci:${absolute}`;
  return {
    kind: 'layout',
    description,
    async loadGraph({ onProgress, ...options } = {}) {
      const graph = await loadLayoutGraph(absolute, options);
      const images = graph.images().length;
      onProgress?.({
        phase: 'done',
        repositories: { done: 0, total: 0 },
        tags: { done: graph.tags().length, total: graph.tags().length },
        manifests: { done: images, total: images },
      });
      return graph;
    },
    checkPlan: (plan: unknown) => parsePlanFor(plan, description),
    applyPlan: (plan, options = {}) => applyLayoutPlan(absolute, plan, options),
  };
}
