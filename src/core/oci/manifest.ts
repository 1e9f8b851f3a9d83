/**
 * The one manifest parser both adapters use: a registry and a layout hold the same manifests, so
 * they read the same media types the same way and report the same problems for the same bytes.
 * Pure: the adapters read the bytes and turn a reported problem into their own typed error.
 */

import {
  isObject,
  type Json,
  type ManifestDescriptor,
  type ManifestProblem,
  parseDescriptor,
  parseDescriptors,
  stringMap,
} from './descriptor.js';
import {
  INDEX_TYPES,
  MANIFEST_TYPES,
  OCI_ARTIFACT,
  OCI_INDEX,
  OCI_MANIFEST,
} from './media-types.js';

export {
  descriptorDigests,
  type ManifestDescriptor,
  type ManifestProblem,
  parseDescriptor,
  parseDescriptors,
} from './descriptor.js';
export { isOciDigest } from './digest.js';

/**
 * A manifest or index reduced to what the graph needs. `opaque` is a manifest of a media type
 * regprune does not know: nothing in it is read, and the plan keeps it.
 */
export interface ParsedManifest {
  kind: 'image' | 'index' | 'opaque';
  mediaType: string;
  config?: ManifestDescriptor;
  /** The layers; for an OCI artifact manifest, its `blobs`. */
  layers: ManifestDescriptor[];
  manifests: ManifestDescriptor[];
  subject?: ManifestDescriptor;
  artifactType?: string;
  annotations?: Record<string, string>;
}

/** Whether the media type is one regprune reads (an index or an image / artifact manifest). */
export function isKnownManifestType(mediaType: string): boolean {
  return INDEX_TYPES.has(mediaType) || MANIFEST_TYPES.has(mediaType);
}

/**
 * Manifest bytes as a JSON object: strict UTF-8 (no silent U+FFFD), or `fail` with what is wrong.
 */
export function parseManifestBytes(bytes: Uint8Array, fail: ManifestProblem): Json {
  let body: unknown;
  try {
    body = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    return fail('not valid UTF-8 JSON');
  }
  return isObject(body) ? body : fail('not a JSON object');
}

/**
 * The media type a manifest is read as, the rule both adapters share:
 * 1. the body's own `mediaType`; when the `declared` type (a registry's `Content-Type`, the
 *    descriptor that named the manifest in a layout) is one regprune reads, the body's must be
 *    of the same kind (both indexes, or both manifests) — else it is a problem;
 * 2. else the declared type (when there is one, known or not);
 * 3. else inferred from the shape (OCI allows omitting it): `manifests` is an index, `config` an
 *    image manifest; else `unknown`.
 */
function mediaTypeOf(
  body: Json,
  declared: string | undefined,
  declaredBy: string,
  fail: ManifestProblem,
): string {
  const header = declared?.split(';')[0]?.trim() || undefined;
  const own = body.mediaType;
  if (own !== undefined) {
    if (typeof own !== 'string') return fail('mediaType must be a string');
    if (
      header !== undefined &&
      isKnownManifestType(header) &&
      (!isKnownManifestType(own) || INDEX_TYPES.has(own) !== INDEX_TYPES.has(header))
    )
      return fail(
        `its "mediaType" is ${JSON.stringify(own)}, but ${declaredBy} names it as ${header}`,
      );
    return own;
  }
  if (header !== undefined) return header;
  if (Array.isArray(body.manifests)) return OCI_INDEX;
  if (isObject(body.config)) return OCI_MANIFEST;
  return 'unknown';
}

/**
 * Parses a manifest's JSON (media type by the rule above). A media type regprune does not know
 * gives an `opaque` manifest (only its string annotations are read); a known one with the wrong
 * shape, or a descriptor with a digest regprune cannot verify, is a problem.
 * @param declaredBy who declared `declared`, for the problem text (e.g. `index.json manifests[0]`).
 */
export function parseManifest(
  body: unknown,
  declared: string | undefined,
  fail: ManifestProblem,
  declaredBy = 'the Content-Type',
): ParsedManifest {
  if (!isObject(body)) return fail('not a JSON object');
  const mediaType = mediaTypeOf(body, declared, declaredBy, fail);
  if (!isKnownManifestType(mediaType)) {
    const opaque: ParsedManifest = { kind: 'opaque', mediaType, layers: [], manifests: [] };
    const annotations = isObject(body.annotations)
      ? Object.fromEntries(
          Object.entries(body.annotations).filter(
            (e): e is [string, string] => typeof e[1] === 'string',
          ),
        )
      : undefined;
    if (annotations && Object.keys(annotations).length > 0) opaque.annotations = annotations;
    return opaque;
  }
  const isArtifact = mediaType === OCI_ARTIFACT;
  if (!isArtifact && body.schemaVersion !== 2)
    return fail(`"schemaVersion" must be 2, got ${JSON.stringify(body.schemaVersion)}`);
  const parsed: ParsedManifest = {
    kind: INDEX_TYPES.has(mediaType) ? 'index' : 'image',
    mediaType,
    layers: [],
    manifests: [],
  };
  if (parsed.kind === 'index') {
    if (!Array.isArray(body.manifests)) return fail('an index needs a "manifests" array');
    parsed.manifests = parseDescriptors(body.manifests, 'manifests', fail);
  } else if (isArtifact) {
    // The OCI 1.1 release candidates' artifact manifest: `blobs` instead of config and layers.
    if (body.config !== undefined) parsed.config = parseDescriptor(body.config, 'config', fail);
    parsed.layers = parseDescriptors(body.blobs, 'blobs', fail);
  } else {
    if (!isObject(body.config)) return fail(`a ${mediaType} must have a "config" descriptor`);
    parsed.config = parseDescriptor(body.config, 'config', fail);
    parsed.layers = parseDescriptors(body.layers, 'layers', fail);
  }
  if (body.subject !== undefined && body.subject !== null)
    parsed.subject = parseDescriptor(body.subject, 'subject', fail);
  if (typeof body.artifactType === 'string') parsed.artifactType = body.artifactType;
  const annotations = stringMap(body.annotations, 'annotations', fail);
  if (annotations) parsed.annotations = annotations;
  return parsed;
}
