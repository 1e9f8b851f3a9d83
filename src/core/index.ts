export * from './errors/index.js';
export { type GraphEdgeAttributes, type GraphNodeAttributes, ImageGraph } from './image-graph.js';
export {
  applyPlanToGraph,
  explain,
  formatKeepPath,
  type KeepTags,
  orphanedImages,
  planCleanup,
  resolveKeepTags,
} from './plan.js';
export type * from './plan-types.js';
export { compareIds } from './sort.js';
export type * from './types.js';
