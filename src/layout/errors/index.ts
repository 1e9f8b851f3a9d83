// PlanMismatchError and PlanRefusedError are defined in the core and shared with regprune/registry.
export { PlanMismatchError } from '../../core/errors/plan-mismatch-error.js';
export { PlanRefusedError } from '../../core/errors/plan-refused-error.js';
export { LAYOUT_ERROR_CODES, type LayoutErrorCode } from './codes.js';
export { InvalidLayoutError } from './invalid-layout-error.js';
export { InvalidPlanError } from './invalid-plan-error.js';
