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
} from '../core/media-types.js';

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

/** Annotation that names a tag in `index.json`. */
export const REF_NAME = 'org.opencontainers.image.ref.name';
/** Annotation naming the digest of the image this one was built on. */
export const BASE_DIGEST = 'org.opencontainers.image.base.digest';
/** Annotation holding a creation date, used when the config has none. */
export const CREATED = 'org.opencontainers.image.created';
