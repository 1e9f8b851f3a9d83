// Defined in the core (it also guards `parsePlan`) and shared with regprune/registry.
export { InvalidPlanError } from '../../core/errors/invalid-plan-error.js';
