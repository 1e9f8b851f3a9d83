export { type CapNames, capRefusal, type DeletionCaps, refuseOverCaps } from './caps.js';
export {
  type DeletionReason,
  deletionReasons,
  longDeletionReason,
  shortDeletionReason,
} from './deletion-reasons.js';
export * from './errors/index.js';
export { graphDot } from './format/dot.js';
export { type ImageFate, imageFates, type TagFate, tagFates } from './format/fates.js';
export { type GraphView, graphView, type ViewImage } from './format/graph-view.js';
export { graphMermaid } from './format/mermaid.js';
export { planMarkdown } from './format/plan-markdown.js';
export { type PlanHeader, planTable } from './format/plan-table.js';
export { resultMarkdown, resultTable } from './format/result.js';
export { type GraphEdgeAttributes, type GraphNodeAttributes, ImageGraph } from './image-graph.js';
export {
  type ImageReference,
  type ProtectOptions,
  parseImageReference,
  parseImageReferences,
  type ResolvedReferences,
  type ResolveReferencesOptions,
  resolveImageReferences,
} from './image-references.js';
export {
  digestOfImage,
  imageId,
  repositoryOfImage,
  repositoryOfTag,
  tagId,
  tagName,
} from './naming.js';
export type { ManifestDescriptor } from './oci/manifest.js';
export {
  compileRepositoryGlob,
  isRepositoryGlob,
  type Matcher,
  repositorySelector,
} from './oci/repository-glob.js';
export {
  applyPlanToGraph,
  explain,
  formatKeepPath,
  type KeepTags,
  orphanedImages,
  planCleanup,
  planDropTags,
  resolveKeepTags,
} from './plan.js';
export { checkPlanTarget, parsePlan } from './plan-file.js';
export type * from './plan-types.js';
export * from './policy/index.js';
export { type RecheckResult, recheckPlan, type SkippedDeletion } from './recheck.js';
export { type ReclaimableTotal, reclaimableTotal } from './reclaimable.js';
export { compareIds, compareNatural } from './sort.js';
export type * from './target.js';
export { NOT_ATTEMPTED_STOPPED } from './target.js';
export type * from './types.js';
export type * from './verify-report.js';
