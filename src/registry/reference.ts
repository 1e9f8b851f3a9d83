import { isVerifiableDigest } from '../core/oci/digest.js';
import { InvalidReferenceError } from './errors/invalid-reference-error.js';

// The OCI distribution grammar (distribution-spec "Pulling manifests", reference grammar).
const COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const REPOSITORY = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);
const TAG = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;

/** Whether `name` is a valid repository name (at most 255 characters). */
export function isRepositoryName(name: string): boolean {
  return name.length <= 255 && REPOSITORY.test(name);
}

/** Whether `tag` is a valid tag. */
export function isTag(tag: string): boolean {
  return TAG.test(tag);
}

/** Whether `digest` is a digest regprune can verify (`sha256:` or `sha512:` in lowercase hex). */
export function isDigest(digest: string): boolean {
  return isVerifiableDigest(digest);
}

/** @throws {InvalidReferenceError} */
export function checkRepository(name: unknown, where: string): string {
  if (typeof name !== 'string' || !isRepositoryName(name))
    throw new InvalidReferenceError('repository', String(name), where);
  return name;
}

/** @throws {InvalidReferenceError} */
export function checkTag(tag: unknown, where: string): string {
  if (typeof tag !== 'string' || !isTag(tag))
    throw new InvalidReferenceError('tag', String(tag), where);
  return tag;
}

/** @throws {InvalidReferenceError} */
export function checkDigest(digest: unknown, where: string): string {
  if (typeof digest !== 'string' || !isDigest(digest))
    throw new InvalidReferenceError('digest', String(digest), where);
  return digest;
}

/** A tag or a digest, whichever `ref` is. @throws {InvalidReferenceError} */
export function checkReference(ref: string, where: string): string {
  return ref.includes(':') ? checkDigest(ref, where) : checkTag(ref, where);
}
