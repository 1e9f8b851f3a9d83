export { loadPolicy } from './load.js';
export { retentionPolicySchema } from './schema.js';
export { selectTags } from './select.js';
export type * from './types.js';
export { validatePolicy } from './validate.js';
