/** Manifest media types regprune reads. */
export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
/** The empty JSON blob `{}` (OCI 1.1), used as the placeholder manifest's config. */
export const OCI_EMPTY = 'application/vnd.oci.empty.v1+json';

/** Config media types whose blob is an image config with a `created` field. */
export const IMAGE_CONFIG_TYPES: ReadonlySet<string> = new Set([
  'application/vnd.oci.image.config.v1+json',
  'application/vnd.docker.container.image.v1+json',
]);

/** Sent as `Accept` on every manifest GET/HEAD: 2.8 answers 404 for types the client does not accept. */
export const MANIFEST_ACCEPT = [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST].join(', ');

export const INDEX_TYPES: ReadonlySet<string> = new Set([OCI_INDEX, DOCKER_LIST]);
export const IMAGE_TYPES: ReadonlySet<string> = new Set([OCI_MANIFEST, DOCKER_MANIFEST]);

/** Largest manifest regprune reads (the limit registries themselves apply). */
export const MANIFEST_LIMIT = 4 * 1024 * 1024;
/** Largest config blob regprune reads for dates. */
export const CONFIG_LIMIT = 8 * 1024 * 1024;
