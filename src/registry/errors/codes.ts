/**
 * Every `code` an error of regprune/registry can carry (its own errors, and the core's plan
 * errors and glob error it passes on). Codes are stable: switch on them.
 */
export const REGISTRY_ERROR_CODES = [
  'AUTH',
  'DELETE_DISABLED',
  'DELETE_REFUSED',
  'DIGEST_MISMATCH',
  'DOCKER_CONFIG',
  'INSECURE_CREDENTIALS',
  'INVALID_REFERENCE',
  'INVENTORY',
  'JOURNAL',
  'LIST_LIMIT',
  'MALFORMED_MANIFEST',
  'MALFORMED_RESPONSE',
  'MANIFEST_TOO_LARGE',
  'NOT_A_REGISTRY_ROOT',
  'PAGINATION_LOOP',
  'PLATFORM_INPUT',
  'RATE_LIMITED',
  'REGISTRY_HTTP',
  'REGISTRY_UNREACHABLE',
  'RESTORE_BLOB_MISSING',
  'UNSUPPORTED_MEDIA_TYPE',
  'INVALID_GLOB',
  'INVALID_PLAN',
  'PLAN_MISMATCH',
  'PLAN_REFUSED',
] as const;

/** The `code` of an error of regprune/registry. */
export type RegistryErrorCode = (typeof REGISTRY_ERROR_CODES)[number];
