/**
 * The one manifest parser both adapters use: a registry and a layout hold the same manifests, so
 * they must read the same media types the same way. Pure: the adapters read the bytes and turn a
 * reported problem into their own typed error.
 */

import {
  INDEX_TYPES,
  MANIFEST_TYPES,
  OCI_ARTIFACT,
  OCI_INDEX,
  OCI_MANIFEST,
} from './media-types.js';
import type { Platform } from './types.js';

/** An OCI content descriptor, validated. */
export interface ManifestDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
  artifactType?: string;
  annotations?: Record<string, string>;
}

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

/** Reports what is wrong with a manifest; never returns. */
export type ManifestProblem = (problem: string) => never;

// image-spec descriptor.md: algorithm ":" encoded, with the registered algorithms' exact forms.
const DIGEST = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
const HEX_LENGTH: Readonly<Record<string, number>> = { sha256: 64, sha512: 128 };

/**
 * Whether `value` is a digest by the OCI grammar (`algorithm:encoded`; `sha256` and `sha512`
 * need exactly 64 or 128 lowercase hex digits).
 */
export function isOciDigest(value: unknown): value is string {
  if (typeof value !== 'string' || !DIGEST.test(value)) return false;
  const colon = value.indexOf(':');
  const length = HEX_LENGTH[value.slice(0, colon)];
  const encoded = value.slice(colon + 1);
  return length === undefined || (encoded.length === length && /^[a-f0-9]+$/.test(encoded));
}

/** Whether the media type is one regprune reads (an index or an image / artifact manifest). */
export function isKnownManifestType(mediaType: string): boolean {
  return INDEX_TYPES.has(mediaType) || MANIFEST_TYPES.has(mediaType);
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringMap(
  value: unknown,
  where: string,
  fail: ManifestProblem,
): Record<string, string> | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isObject(value)) return fail(`${where} must be an object`);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') return fail(`${where}.${k} must be a string`);
    out[k] = v;
  }
  return out;
}

/** Checks one descriptor; `where` names it in a problem (e.g. `layers[2]`). */
export function parseDescriptor(
  value: unknown,
  where: string,
  fail: ManifestProblem,
): ManifestDescriptor {
  if (!isObject(value)) return fail(`${where} must be an object`);
  const { mediaType, digest, size } = value;
  if (typeof mediaType !== 'string' || mediaType.length === 0)
    return fail(`${where}.mediaType must be a non-empty string`);
  if (!isOciDigest(digest))
    return fail(`${where}.digest ${JSON.stringify(digest)} is not a valid digest`);
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0)
    return fail(`${where}.size must be a non-negative integer`);
  const out: ManifestDescriptor = { mediaType, digest, size };
  if (isObject(value.platform)) {
    const { os, architecture, variant } = value.platform;
    if (typeof os === 'string' && typeof architecture === 'string') {
      out.platform = { os, architecture };
      if (typeof variant === 'string') out.platform.variant = variant;
    }
  }
  if (typeof value.artifactType === 'string') out.artifactType = value.artifactType;
  const annotations = stringMap(value.annotations, `${where}.annotations`, fail);
  if (annotations) out.annotations = annotations;
  return out;
}

/** Checks a descriptor list (absent or null is empty). */
export function parseDescriptors(
  value: unknown,
  where: string,
  fail: ManifestProblem,
): ManifestDescriptor[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) return fail(`"${where}" must be an array`);
  return value.map((d, i) => parseDescriptor(d, `${where}[${i}]`, fail));
}

/**
 * Parses a manifest's JSON. The media type is the body's `mediaType`, else `declared` (the
 * response's `Content-Type`, or the descriptor that named the manifest) when it is one regprune
 * knows, else inferred from the shape (OCI allows omitting it). A media type regprune does not
 * know gives an `opaque` manifest (only its annotations are read); a known one with the wrong
 * shape is a problem.
 */
export function parseManifest(
  body: unknown,
  declared: string | undefined,
  fail: ManifestProblem,
): ParsedManifest {
  if (!isObject(body)) return fail('not a JSON object');
  const header = declared?.split(';')[0]?.trim();
  let mediaType: string | undefined;
  if (typeof body.mediaType === 'string') mediaType = body.mediaType;
  else if (body.mediaType !== undefined) return fail('mediaType must be a string');
  else if (header && isKnownManifestType(header)) mediaType = header;
  else if (Array.isArray(body.manifests)) mediaType = OCI_INDEX;
  else if (isObject(body.config)) mediaType = OCI_MANIFEST;
  else mediaType = header || undefined;
  if (mediaType === undefined || !isKnownManifestType(mediaType)) {
    const opaque: ParsedManifest = {
      kind: 'opaque',
      mediaType: mediaType ?? 'unknown',
      layers: [],
      manifests: [],
    };
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
  if (!isArtifact && body.schemaVersion !== 2) return fail('schemaVersion must be 2');
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
