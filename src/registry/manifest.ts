import type { Platform } from '../core/types.js';
import { MalformedManifestError } from './errors/malformed-manifest-error.js';
import { UnsupportedMediaTypeError } from './errors/unsupported-media-type-error.js';
import { IMAGE_TYPES, INDEX_TYPES, OCI_INDEX, OCI_MANIFEST } from './media-types.js';
import { isDigest } from './reference.js';

/** An OCI content descriptor, validated. */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
  artifactType?: string;
  annotations?: Record<string, string>;
}

/** A manifest or index reduced to what the graph needs. */
export interface ParsedManifest {
  kind: 'image' | 'index';
  mediaType: string;
  config?: Descriptor;
  layers: Descriptor[];
  manifests: Descriptor[];
  subject?: Descriptor;
  artifactType?: string;
  annotations?: Record<string, string>;
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringMap(
  value: unknown,
  where: string,
  fail: (p: string) => never,
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

function descriptor(value: unknown, where: string, fail: (p: string) => never): Descriptor {
  if (!isObject(value)) return fail(`${where} must be an object`);
  const { mediaType, digest, size } = value;
  if (typeof mediaType !== 'string' || mediaType.length === 0)
    return fail(`${where}.mediaType must be a non-empty string`);
  if (typeof digest !== 'string' || !isDigest(digest))
    return fail(`${where}.digest ${JSON.stringify(digest)} is not a valid digest`);
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0)
    return fail(`${where}.size must be a non-negative integer`);
  const out: Descriptor = { mediaType, digest, size };
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

function descriptors(value: unknown, where: string, fail: (p: string) => never): Descriptor[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) return fail(`${where} must be an array`);
  return value.map((d, i) => descriptor(d, `${where}[${i}]`, fail));
}

/**
 * Parses manifest bytes. The media type is the body's `mediaType`, else the response's
 * `Content-Type`, else inferred from the shape (OCI allows omitting it).
 * @throws {MalformedManifestError} {@link UnsupportedMediaTypeError}
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
  const body = parseJsonObject(bytes, fail);
  const header = contentType?.split(';')[0]?.trim();
  let mediaType: string | undefined;
  if (typeof body.mediaType === 'string') mediaType = body.mediaType;
  else if (body.mediaType !== undefined) return fail('mediaType must be a string');
  else if (header && (IMAGE_TYPES.has(header) || INDEX_TYPES.has(header))) mediaType = header;
  else if (Array.isArray(body.manifests)) mediaType = OCI_INDEX;
  else if (isObject(body.config)) mediaType = OCI_MANIFEST;
  if (!mediaType || !(IMAGE_TYPES.has(mediaType) || INDEX_TYPES.has(mediaType))) {
    throw new UnsupportedMediaTypeError(repository, digest, mediaType ?? header ?? 'unknown');
  }
  if (body.schemaVersion !== 2) return fail('schemaVersion must be 2');
  const parsed: ParsedManifest = {
    kind: INDEX_TYPES.has(mediaType) ? 'index' : 'image',
    mediaType,
    layers: [],
    manifests: [],
  };
  if (parsed.kind === 'index') {
    if (!Array.isArray(body.manifests)) return fail('an index needs a manifests array');
    parsed.manifests = descriptors(body.manifests, 'manifests', fail);
  } else {
    parsed.config = descriptor(body.config, 'config', fail);
    parsed.layers = descriptors(body.layers, 'layers', fail);
  }
  if (body.subject !== undefined && body.subject !== null)
    parsed.subject = descriptor(body.subject, 'subject', fail);
  if (typeof body.artifactType === 'string') parsed.artifactType = body.artifactType;
  const annotations = stringMap(body.annotations, 'annotations', fail);
  if (annotations) parsed.annotations = annotations;
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
  return descriptors(body.manifests, 'manifests', fail);
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
  return isObject(body) ? body : fail('not a JSON object');
}
