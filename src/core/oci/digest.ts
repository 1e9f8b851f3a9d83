/**
 * The one digest grammar. Everything that reads a digest — a manifest's descriptors, a layout's
 * blob path, a plan, a journal, an inventory, a caller's argument — asks here, so "valid" means
 * one thing across adapters.
 *
 * image-spec descriptor.md: `digest ::= algorithm ":" encoded`, with
 * `algorithm ::= component (separator component)*`, `component ::= [a-z0-9]+`,
 * `separator ::= [+._-]`, `encoded ::= [a-zA-Z0-9=_-]+`; the registered algorithms fix the
 * encoded part: `sha256` is 64 and `sha512` 128 lowercase hex digits.
 */

const ALGORITHM = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*$/;
const ENCODED = /^[a-zA-Z0-9=_-]+$/;
const HEX_LENGTH: Readonly<Record<string, number>> = { sha256: 64, sha512: 128 };

/** Digest algorithms regprune can verify (it hashes content in them), and so the only ones it deletes by. */
export const VERIFIABLE_ALGORITHMS: readonly string[] = ['sha256', 'sha512'];

/**
 * What is wrong with `value` as a digest by the OCI grammar, or `undefined` when it is one.
 * The text names the value.
 */
export function digestProblem(value: unknown): string | undefined {
  if (typeof value !== 'string') return `${JSON.stringify(value) ?? String(value)} is not a string`;
  const colon = value.indexOf(':');
  const algorithm = value.slice(0, colon);
  const encoded = value.slice(colon + 1);
  if (colon <= 0 || !ALGORITHM.test(algorithm) || !ENCODED.test(encoded))
    return `${JSON.stringify(value)} is not a valid digest (algorithm:encoded)`;
  const length = HEX_LENGTH[algorithm];
  if (length !== undefined && !(encoded.length === length && /^[a-f0-9]+$/.test(encoded)))
    return `${JSON.stringify(value)} is not a valid ${algorithm} digest (${length} lowercase hex digits)`;
  return undefined;
}

/**
 * Whether `value` is a digest by the OCI grammar (`algorithm:encoded`; `sha256` and `sha512`
 * need exactly 64 or 128 lowercase hex digits).
 */
export function isOciDigest(value: unknown): value is string {
  return digestProblem(value) === undefined;
}

/** Whether `value` is a digest regprune can verify: `sha256:` or `sha512:` in lowercase hex. */
export function isVerifiableDigest(value: unknown): value is string {
  return isOciDigest(value) && VERIFIABLE_ALGORITHMS.includes(value.slice(0, value.indexOf(':')));
}

/** The algorithm and encoded part of a digest the grammar accepts. */
export function splitDigest(digest: string): { algorithm: string; encoded: string } {
  const colon = digest.indexOf(':');
  return { algorithm: digest.slice(0, colon), encoded: digest.slice(colon + 1) };
}
