/**
 * `regprune/layout` — the OCI image layout adapter: load the image graph of a layout directory and
 * carry out a cleanup plan on it (rewriting `index.json` atomically and removing unneeded blobs).
 *
 * Layout graphs name images `@<digest>` and tags by their `org.opencontainers.image.ref.name`.
 * @packageDocumentation
 */
/**
 * The layout adapter's functions under the names the registry adapter uses (`loadGraph`,
 * `applyPlan` from `regprune/registry`), so code written for one entry point reads the same for
 * the other; `loadLayoutGraph`/`applyLayoutPlan` stay as the longer names.
 */

export type { CleanupTarget, LoadProgress, TargetLoadOptions } from '../core/target.js';
export { applyLayoutPlan, applyLayoutPlan as applyPlan } from './apply-plan.js';
export * from './errors/index.js';
export {
  type LoadLayoutOptions,
  loadLayoutGraph,
  loadLayoutGraph as loadGraph,
} from './load-graph.js';
export { layoutDigest, layoutImageId } from './naming.js';
export { layoutTarget } from './target.js';
