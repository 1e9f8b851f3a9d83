import {
  type ManifestDescriptor,
  type ParsedManifest,
  parseDescriptors,
  parseManifestBytes,
  parseManifest as parseManifestJson,
} from '../core/oci/manifest.js';
import { MalformedManifestError } from './errors/malformed-manifest-error.js';

export type { ParsedManifest } from '../core/oci/manifest.js';

/** An OCI content descriptor, validated. */
export type Descriptor = ManifestDescriptor;

/**
 * Parses manifest bytes with the core's parser (the one the layout adapter uses too), the
 * response's `Content-Type` as the declared type. A media type regprune does not know gives an
 * `opaque` manifest.
 * @throws {MalformedManifestError} naming the manifest and what is wrong with it.
 */
export function parseManifest(
  bytes: Uint8Array,
  contentType: string | undefined,
  repository: string,
  digest: string,
): ParsedManifest {
  const fail = (problem: string): never => {
    throw new MalformedManifestError(repository, digest, problem);
  };
  return parseManifestJson(parseManifestBytes(bytes, fail), contentType, fail);
}

/**
 * Parses a referrers list (an OCI index from the referrers API or a fallback tag): only its
 * `manifests` matter.
 */
export function parseReferrersIndex(
  bytes: Uint8Array,
  repository: string,
  digest: string,
): Descriptor[] {
  const fail = (problem: string): never => {
    throw new MalformedManifestError(repository, digest, `referrers list: ${problem}`);
  };
  return parseDescriptors(parseManifestBytes(bytes, fail).manifests, 'manifests', fail);
}
