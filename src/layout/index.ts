/**
 * `regprune/layout` — the OCI image layout adapter: load the image graph of a layout directory and
 * carry out a cleanup plan on it (rewriting `index.json` atomically and removing unneeded blobs).
 *
 * Layout graphs name images `@<digest>` and tags by their `org.opencontainers.image.ref.name`.
 * @packageDocumentation
 */
export { applyLayoutPlan } from './apply-plan.js';
export * from './errors/index.js';
export { type LoadLayoutOptions, loadLayoutGraph } from './load-graph.js';
export { layoutDigest, layoutImageId } from './naming.js';
export { layoutTarget } from './target.js';
