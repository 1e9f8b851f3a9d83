import { repositoryScope } from '../auth/challenge.js';
import { digestOf } from '../digest.js';
import { DigestMismatchError } from '../errors/digest-mismatch-error.js';
import { checkDigest, checkRepository } from '../reference.js';
import type { EndpointContext } from './context.js';

interface Options {
  signal?: AbortSignal;
}

/** A blob's bytes, verified against its digest; `undefined` on 404 or when over `limit`. */
export async function getBlob(
  context: EndpointContext,
  repository: string,
  digest: string,
  limit: number,
  options: Options,
): Promise<Uint8Array | undefined> {
  checkRepository(repository, 'getBlob');
  checkDigest(digest, `getBlob(${repository})`);
  const scope = repositoryScope(repository, 'pull');
  const target = `v2/${repository}/blobs/${digest}`;
  return context.limit(async () => {
    const { response, bytes } = await context.call({
      method: 'GET',
      target,
      scope,
      read: limit,
      ...options,
    });
    if (response.status === 404) {
      await response.body?.cancel();
      return undefined;
    }
    await context.expect(response, [200], 'GET', target, scope);
    if (!bytes) return undefined;
    const actual = digestOf(bytes, digest);
    if (actual !== digest) throw new DigestMismatchError(repository, digest, digest, actual);
    return bytes;
  });
}

/** Whether the repository has the blob (`HEAD /v2/<repository>/blobs/<digest>`). */
export async function hasBlob(
  context: EndpointContext,
  repository: string,
  digest: string,
  options: Options,
): Promise<boolean> {
  checkRepository(repository, 'hasBlob');
  checkDigest(digest, `hasBlob(${repository})`);
  const scope = repositoryScope(repository, 'pull');
  return context.limit(async () => {
    const target = `v2/${repository}/blobs/${digest}`;
    const { response } = await context.call({ method: 'HEAD', target, scope, ...options });
    await response.body?.cancel();
    if (response.status === 404) return false;
    await context.expect(response, [200], 'HEAD', target, scope);
    return true;
  });
}

/** Uploads a small blob (one monolithic PUT) unless the repository has it; returns its digest. */
export async function ensureBlob(
  context: EndpointContext,
  repository: string,
  bytes: Uint8Array,
  options: Options,
): Promise<string> {
  checkRepository(repository, 'ensureBlob');
  const digest = digestOf(bytes);
  const scope = repositoryScope(repository, 'pull,push');
  return context.limit(async () => {
    const blob = `v2/${repository}/blobs/${digest}`;
    const head = (await context.call({ method: 'HEAD', target: blob, scope, ...options })).response;
    await head.body?.cancel();
    if (head.status === 200) return digest;
    const start = `v2/${repository}/blobs/uploads/`;
    const begun = (await context.call({ method: 'POST', target: start, scope, ...options }))
      .response;
    await context.expect(begun, [202], 'POST', start, scope);
    await begun.body?.cancel();
    const location = new URL(begun.headers.get('location') ?? '', context.absolute(start));
    location.searchParams.set('digest', digest);
    const put = (
      await context.call({
        method: 'PUT',
        target: location.toString(),
        scope,
        headers: { 'content-type': 'application/octet-stream' },
        body: bytes,
        ...options,
      })
    ).response;
    await context.expect(put, [201, 204], 'PUT', `v2/${repository}/blobs/uploads/…`, scope);
    await put.body?.cancel();
    return digest;
  });
}
