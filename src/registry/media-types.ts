import { MANIFEST_ACCEPT_TYPES } from '../core/media-types.js';

export {
  CONFIG_LIMIT,
  DOCKER_LIST,
  DOCKER_MANIFEST,
  IMAGE_CONFIG_TYPES,
  IMAGE_TYPES,
  INDEX_TYPES,
  MANIFEST_LIMIT,
  OCI_INDEX,
  OCI_MANIFEST,
} from '../core/media-types.js';
/** The empty JSON blob `{}` (OCI 1.1), used as the placeholder manifest's config. */
export const OCI_EMPTY = 'application/vnd.oci.empty.v1+json';

/** Sent as `Accept` on every manifest GET/HEAD: 2.8 answers 404 for types the client does not accept. */
export const MANIFEST_ACCEPT = MANIFEST_ACCEPT_TYPES.join(', ');
