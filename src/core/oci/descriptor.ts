/**
 * OCI content descriptors, parsed and validated the same way for both adapters. Pure: a problem is
 * reported through the caller's `fail`, which throws the adapter's own typed error.
 */

import type { Platform } from '../types.js';
import { digestProblem, isVerifiableDigest, VERIFIABLE_ALGORITHMS } from './digest.js';

/** An OCI content descriptor, validated. */
export interface ManifestDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
  artifactType?: string;
  annotations?: Record<string, string>;
}

/** Reports what is wrong with a manifest; never returns. */
export type ManifestProblem = (problem: string) => never;

/** @internal */
export type Json = Record<string, unknown>;

/** @internal */
export function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A string-to-string map (annotations); absent or null is `undefined`, anything else a problem. */
export function stringMap(
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

/**
 * Checks one descriptor; `where` names it in a problem (e.g. `layers[2]`). Its digest must be one
 * regprune can verify (sha256, sha512): both adapters read or keep what a descriptor names by
 * that digest, and content they cannot check is content they must not trust.
 */
export function parseDescriptor(
  value: unknown,
  where: string,
  fail: ManifestProblem,
): ManifestDescriptor {
  if (!isObject(value)) return fail(`${where} must be an object`);
  const { mediaType, digest, size } = value;
  if (typeof mediaType !== 'string' || mediaType.length === 0)
    return fail(`${where}.mediaType must be a non-empty string`);
  const problem = digestProblem(digest);
  if (problem !== undefined) return fail(`${where}.digest ${problem}`);
  if (!isVerifiableDigest(digest))
    return fail(
      `${where}.digest ${JSON.stringify(digest)} is not a ${VERIFIABLE_ALGORITHMS.join(' or ')} digest`,
    );
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0)
    return fail(`${where}.size must be a non-negative integer, got ${JSON.stringify(size)}`);
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
 * Every digest a JSON document names in a descriptor-shaped object (`mediaType` and a digest by
 * the grammar), depth first: what an opaque manifest may need, so nothing it names is collected.
 */
export function descriptorDigests(value: unknown, out: string[] = [], depth = 0): string[] {
  if (depth > 32 || typeof value !== 'object' || value === null) return out;
  if (Array.isArray(value)) {
    for (const item of value) descriptorDigests(item, out, depth + 1);
    return out;
  }
  const record = value as Json;
  if (typeof record.mediaType === 'string' && digestProblem(record.digest) === undefined)
    out.push(record.digest as string);
  for (const item of Object.values(record)) descriptorDigests(item, out, depth + 1);
  return out;
}
