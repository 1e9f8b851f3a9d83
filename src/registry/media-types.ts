import { MANIFEST_ACCEPT_TYPES } from '../core/oci/media-types.js';

// The media types live in the core (src/core/oci/media-types.ts); re-exported for registry modules.
export {
  CONFIG_LIMIT,
  DOCKER_LIST,
  DOCKER_MANIFEST,
  IMAGE_CONFIG_TYPES,
  IMAGE_TYPES,
  INDEX_TYPES,
  MANIFEST_LIMIT,
  OCI_EMPTY,
  OCI_INDEX,
  OCI_MANIFEST,
} from '../core/oci/media-types.js';

/** Sent as `Accept` on every manifest GET/HEAD: 2.8 answers 404 for types the client does not accept. */
export const MANIFEST_ACCEPT = MANIFEST_ACCEPT_TYPES.join(', ');
