import { createHash } from 'node:crypto';

/** The digest of `bytes` in the algorithm of `like` (`sha256` unless `like` is a sha512 digest). */
export function digestOf(bytes: Uint8Array, like = 'sha256:'): string {
  const algorithm = like.startsWith('sha512:') ? 'sha512' : 'sha256';
  return `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;
}
