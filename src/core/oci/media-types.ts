/**
 * Media types both adapters read, and the rules they share about them. Registries and layouts hold
 * the same manifests, so they must agree on what is an index, what is an image config and how an
 * artifact is typed.
 */

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const DOCKER_CONFIG = 'application/vnd.docker.container.image.v1+json';
/** Artifact manifest of the OCI 1.1 release candidates; registries still store them. */
export const OCI_ARTIFACT = 'application/vnd.oci.artifact.manifest.v1+json';
/** The empty JSON blob `{}` (OCI 1.1), e.g. the config of an artifact that has none. */
export const OCI_EMPTY = 'application/vnd.oci.empty.v1+json';

/** Config media types whose blob is an image config (with a `created` field). */
export const IMAGE_CONFIG_TYPES: ReadonlySet<string> = new Set([OCI_CONFIG, DOCKER_CONFIG]);
export const INDEX_TYPES: ReadonlySet<string> = new Set([OCI_INDEX, DOCKER_LIST]);
export const IMAGE_TYPES: ReadonlySet<string> = new Set([OCI_MANIFEST, DOCKER_MANIFEST]);
/** Manifest (non-index) media types regprune reads: images and OCI artifact manifests. */
export const MANIFEST_TYPES: ReadonlySet<string> = new Set([...IMAGE_TYPES, OCI_ARTIFACT]);
/** Every manifest media type regprune reads, for a registry's `Accept` header. */
export const MANIFEST_ACCEPT_TYPES: readonly string[] = [
  OCI_MANIFEST,
  OCI_INDEX,
  DOCKER_MANIFEST,
  DOCKER_LIST,
  OCI_ARTIFACT,
];

/** Largest manifest regprune reads (the limit registries themselves apply). */
export const MANIFEST_LIMIT = 4 * 1024 * 1024;

/** Largest config blob regprune reads for dates. */
export const CONFIG_LIMIT = 8 * 1024 * 1024;

/**
 * A manifest's artifact type: the one it declares, else the one a descriptor pointing at it
 * declares (a referrers list entry), else — image-spec 1.1 — its config's media type when that is
 * not an image config. `undefined` for a plain image.
 */
export function artifactTypeOf(
  declared: string | undefined,
  configMediaType: string | undefined,
  fromDescriptor?: string,
): string | undefined {
  if (declared !== undefined) return declared;
  if (fromDescriptor !== undefined) return fromDescriptor;
  if (configMediaType !== undefined && !IMAGE_CONFIG_TYPES.has(configMediaType))
    return configMediaType;
  return undefined;
}
