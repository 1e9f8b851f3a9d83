import {
  type ManifestDescriptor,
  type ParsedManifest,
  parseDescriptors,
  parseManifest as parseManifestJson,
} from '../core/manifest.js';
import { MalformedManifestError } from './errors/malformed-manifest-error.js';
import { isDigest } from './reference.js';

export type { ParsedManifest } from '../core/manifest.js';

/** An OCI content descriptor, validated. */
export type Descriptor = ManifestDescriptor;

/**
 * Parses manifest bytes with the core's parser (the one the layout adapter uses too). The media
 * type is the body's `mediaType`, else the response's `Content-Type`, else inferred from the shape
 * (OCI allows omitting it). A media type regprune does not know gives an `opaque` manifest.
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
  const parsed = parseManifestJson(parseJsonObject(bytes, fail), contentType, fail);
  // The registry adapter fetches and verifies what these name, so only digests it can verify do.
  const named: Array<[string, Descriptor | undefined]> = [
    ['config', parsed.config],
    ['subject', parsed.subject],
    ...parsed.layers.map((d, i): [string, Descriptor] => [`layers[${i}]`, d]),
    ...parsed.manifests.map((d, i): [string, Descriptor] => [`manifests[${i}]`, d]),
  ];
  for (const [where, d] of named) {
    if (d && !isDigest(d.digest))
      fail(`${where}.digest ${JSON.stringify(d.digest)} is not a sha256 or sha512 digest`);
  }
  return parsed;
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
  const body = parseJsonObject(bytes, fail);
  return parseDescriptors(body.manifests, 'manifests', fail);
}

/** The bytes as a JSON object, or `fail` with what is wrong (strict UTF-8: no silent U+FFFD). */
function parseJsonObject(
  bytes: Uint8Array,
  fail: (problem: string) => never,
): Record<string, unknown> {
  let body: unknown;
  try {
    body = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    return fail('not valid UTF-8 JSON');
  }
  return typeof body === 'object' && body !== null && !Array.isArray(body)
    ? (body as Record<string, unknown>)
    : fail('not a JSON object');
}
