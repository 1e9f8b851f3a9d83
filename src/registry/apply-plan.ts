/**
 * Where the registry's apply step always lived: it is split by operation in `./apply/`; this
 * module keeps the old import path working.
 */
export type { ApplyTuning } from './apply/context.js';
export { applyPlan, applyPlanTuned, type RegistryApplyOptions } from './apply/orchestrate.js';
export { GC_NOTE } from './apply/result.js';
