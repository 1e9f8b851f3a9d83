/** The subset of OCI image-spec JSON shapes the layout adapter reads and writes. */
export {
  DOCKER_CONFIG,
  DOCKER_LIST,
  DOCKER_MANIFEST,
  INDEX_TYPES,
  MANIFEST_LIMIT,
  MANIFEST_TYPES,
  OCI_ARTIFACT,
  OCI_CONFIG,
  OCI_INDEX,
  OCI_MANIFEST,
} from '../core/oci/media-types.js';

/** An OCI content descriptor. */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: { os: string; architecture: string; variant?: string };
  artifactType?: string;
  [extra: string]: unknown;
}

/** `index.json` (and any image index blob): unknown fields are kept as they are. */
export interface IndexDocument {
  schemaVersion: number;
  mediaType?: string;
  manifests: Descriptor[];
  annotations?: Record<string, string>;
  [extra: string]: unknown;
}

// The annotation names live in the core, shared with the registry adapter.
export { BASE_DIGEST, CREATED, REF_NAME } from '../core/oci/annotations.js';
