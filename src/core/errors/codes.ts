/** Every `code` an error of the core (`regprune`) can carry. Codes are stable: switch on them. */
export const CORE_ERROR_CODES = [
  'CYCLE',
  'INVALID_GLOB',
  'INVALID_GRAPH',
  'INVALID_PLAN',
  'INVALID_POLICY',
  'PLAN_MISMATCH',
  'PLAN_REFUSED',
  'SELF_EDGE',
  'UNKNOWN_IMAGE',
  'UNKNOWN_TAG',
] as const;

/** The `code` of an error of the core. */
export type CoreErrorCode = (typeof CORE_ERROR_CODES)[number];
