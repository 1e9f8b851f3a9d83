export { InvalidEdgeError } from './invalid-edge-error.js';
export { InvalidGraphError } from './invalid-graph-error.js';
export { InvalidPolicyError } from './invalid-policy-error.js';
export { PlanMismatchError } from './plan-mismatch-error.js';
export { PlanRefusedError } from './plan-refused-error.js';
export { RegpruneError } from './regprune-error.js';
export { UnknownImageError } from './unknown-image-error.js';
export { UnknownTagError } from './unknown-tag-error.js';
