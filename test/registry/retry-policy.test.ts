/**
 * One retry policy (ky's retry, configured by the client's `retry` option) covers every request:
 * the answer, its redirect hops and the read of its body share one budget of attempts, and the
 * 500 a digest DELETE may get from distribution 2.8 is retried under the same budget.
 * In-process fake registry: docker-registry cannot cut a body or answer 500 on demand.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  RegistryClient,
  RegistryHttpError,
  RegistryUnreachableError,
} from '../../src/registry/index.js';
import { type FakeRegistry, imageManifest, startFakeRegistry } from '../helpers/fake-registry.js';

const OCI = 'application/vnd.oci.image.manifest.v1+json';
let fake: FakeRegistry;
beforeEach(async () => {
  fake = await startFakeRegistry();
});
afterEach(async () => {
  await fake.stop();
});

describe('fake (cut bodies, 500 on DELETE): one retry budget per request', () => {
  it('a manifest body cut short every time: limit + 1 requests in all, then RegistryUnreachableError', async () => {
    const image = fake.put('app', imageManifest('a'), OCI, 'v1');
    fake.hook = (req, res, url) => {
      if (req.method !== 'GET' || !url.pathname.includes('/manifests/')) return false;
      res.writeHead(200, { 'content-type': OCI, 'content-length': '5000' });
      res.write('{"schemaVersion":');
      setTimeout(() => req.socket.destroy(), 10);
      return true;
    };
    const client = new RegistryClient({ url: fake.url, retry: { limit: 2, baseDelay: 1 } });
    const error = await client.getManifest('app', image.digest).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RegistryUnreachableError);
    expect((error as RegistryUnreachableError).attempts).toBe(3);
    expect(fake.log.filter((l) => l.includes('/manifests/'))).toHaveLength(3);
  });

  it('a body cut short once is read again and verified', async () => {
    const image = fake.put('app', imageManifest('a'), OCI, 'v1');
    let cut = false;
    fake.hook = (req, res, url) => {
      if (cut || req.method !== 'GET' || !url.pathname.includes('/manifests/')) return false;
      cut = true;
      res.writeHead(200, { 'content-type': OCI, 'content-length': '5000' });
      res.write('{"schemaVersion":');
      setTimeout(() => req.socket.destroy(), 10);
      return true;
    };
    const client = new RegistryClient({ url: fake.url, retry: { limit: 2, baseDelay: 1 } });
    expect((await client.getManifest('app', image.digest))?.digest).toBe(image.digest);
    expect(fake.log.filter((l) => l.includes('/manifests/'))).toHaveLength(2);
  });

  it('a digest DELETE answering 500 is retried within the retry limit, then a RegistryHttpError', async () => {
    const image = fake.put('app', imageManifest('a'), OCI, 'v1');
    fake.hook = (req, res) => {
      if (req.method !== 'DELETE') return false;
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ code: 'UNKNOWN', message: 'unknown error' }] }));
      return true;
    };
    const client = new RegistryClient({ url: fake.url, retry: { limit: 2, baseDelay: 1 } });
    const error = await client.deleteManifest('app', image.digest).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RegistryHttpError);
    expect(error).toMatchObject({ status: 500, registryCode: 'UNKNOWN', retryable: true });
    expect((error as Error).message).toMatch(/gave up after 3 attempts/);
    expect(fake.log.filter((l) => l.startsWith('DELETE'))).toHaveLength(3);
  });

  it('a tag DELETE answering 500 is not retried (only a digest DELETE is idempotent)', async () => {
    fake.put('app', imageManifest('a'), OCI, 'v1');
    fake.hook = (req, res) => {
      if (req.method !== 'DELETE') return false;
      res.writeHead(500).end();
      return true;
    };
    const client = new RegistryClient({ url: fake.url, retry: { limit: 2, baseDelay: 1 } });
    const error = await client.deleteManifest('app', 'v1').catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 500 });
    expect(fake.log.filter((l) => l.startsWith('DELETE'))).toHaveLength(1);
  });
});
