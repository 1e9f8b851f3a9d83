// PlanRefusedError is defined in the core and shared with regprune/layout.
export { PlanRefusedError } from '../../core/errors/plan-refused-error.js';
export { AuthError } from './auth-error.js';
export { DeleteDisabledError } from './delete-disabled-error.js';
export { DigestMismatchError } from './digest-mismatch-error.js';
export { DockerConfigError } from './docker-config-error.js';
export { InsecureCredentialsError } from './insecure-credentials-error.js';
export { InvalidReferenceError } from './invalid-reference-error.js';
export { JournalError } from './journal-error.js';
export { ListLimitError } from './list-limit-error.js';
export { MalformedManifestError } from './malformed-manifest-error.js';
export { MalformedResponseError } from './malformed-response-error.js';
export { ManifestTooLargeError } from './manifest-too-large-error.js';
export { PaginationLoopError } from './pagination-loop-error.js';
export { RegistryHttpError } from './registry-http-error.js';
export { RegistryUnreachableError } from './registry-unreachable-error.js';
export { type MissingContent, RestoreBlobMissingError } from './restore-blob-missing-error.js';
export { UnsupportedMediaTypeError } from './unsupported-media-type-error.js';
