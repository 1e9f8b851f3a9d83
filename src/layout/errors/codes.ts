/**
 * Every `code` an error of regprune/layout can carry (its own and the core's plan errors it passes
 * on). Codes are stable: switch on them.
 */
export const LAYOUT_ERROR_CODES = [
  'INVALID_LAYOUT',
  'INVALID_PLAN',
  'PLAN_MISMATCH',
  'PLAN_REFUSED',
] as const;

/** The `code` of an error of regprune/layout. */
export type LayoutErrorCode = (typeof LAYOUT_ERROR_CODES)[number];
