import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { planCleanup } from '../../src/index.js';
import {
  AuthError,
  DigestMismatchError,
  InvalidReferenceError,
  loadGraph,
  MalformedManifestError,
  MalformedResponseError,
  RegistryClient,
} from '../../src/registry/index.js';
import { type FakeRegistry, imageManifest, startFakeRegistry } from '../helpers/fake-registry.js';

const OCI = 'application/vnd.oci.image.manifest.v1+json';
const INDEX = 'application/vnd.oci.image.index.v1+json';
let fake: FakeRegistry;
beforeEach(async () => {
  fake = await startFakeRegistry();
});
afterEach(async () => {
  await fake.stop();
});

const sha = (text: string) => `sha256:${createHash('sha256').update(text).digest('hex')}`;

/** Answers `path` (exact pathname) with a JSON body, leaving everything else to the fake. */
function answer(path: string, body: unknown, headers: Record<string, string> = {}): void {
  fake.hook = (_req, res, url) => {
    if (url.pathname !== path) return false;
    res.writeHead(200, { 'content-type': 'application/json', ...headers });
    res.end(typeof body === 'string' ? body : JSON.stringify(body));
    return true;
  };
}

/** A chain of `depth` indexes above one image; the top one is tagged `top`. */
function nestedIndexes(depth: number): { top: string; all: string[] } {
  let child = fake.put('app', imageManifest('leaf'), OCI);
  const all = [child.digest];
  for (let i = 0; i < depth; i++) {
    child = fake.put(
      'app',
      { schemaVersion: 2, mediaType: INDEX, manifests: [child] },
      INDEX,
      i === depth - 1 ? 'top' : undefined,
    );
    all.push(child.digest);
  }
  return { top: child.digest, all };
}

describe('hostile values from a registry become typed errors', () => {
  it('(fake: catalog with path traversal) names like ../../etc are refused before any request uses them', async () => {
    fake.put('ok', imageManifest('a'), OCI, 'v1');
    answer('/v2/_catalog', { repositories: ['ok', '../../etc', 'a/../b'] });
    const client = new RegistryClient({ url: fake.url });
    const error = await loadGraph(client).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidReferenceError);
    expect((error as InvalidReferenceError).kind).toBe('repository');
    expect(fake.log.filter((l) => l.includes('..'))).toEqual([]);
  });

  it('(fake: a 100,000-character tag) is refused, and the message stays short', async () => {
    fake.put('app', imageManifest('a'), OCI, 'v1');
    answer('/v2/app/tags/list', { name: 'app', tags: ['v1', `x${'a'.repeat(100_000)}`] });
    const error = await loadGraph(new RegistryClient({ url: fake.url }), {
      repositories: ['app'],
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidReferenceError);
    expect((error as Error).message.length).toBeLessThan(1_000);
  });

  it('(fake: non-hex digests) in Docker-Content-Digest and in an index are refused', async () => {
    const img = fake.put('app', imageManifest('a'), OCI, 'v1');
    fake.hook = (req, res, url) => {
      if (req.method !== 'HEAD' || !url.pathname.endsWith('/manifests/v1')) return false;
      res.writeHead(200, { 'docker-content-digest': `sha256:${'g'.repeat(64)}` }).end();
      return true;
    };
    const client = new RegistryClient({ url: fake.url });
    await expect(client.resolve('app', 'v1')).rejects.toThrow(InvalidReferenceError);
    fake.hook = undefined;
    fake.put(
      'app',
      {
        schemaVersion: 2,
        mediaType: INDEX,
        manifests: [{ mediaType: OCI, digest: 'sha256:../../../etc/passwd', size: img.size }],
      },
      INDEX,
      'bad-index',
    );
    const error = await loadGraph(client, { repositories: ['app'] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MalformedManifestError);
    expect((error as Error).message).toMatch(/manifests\[0\]\.digest .* is not a valid digest/);
    expect(fake.log.filter((l) => l.includes('..'))).toEqual([]);
  });

  it('(fake: indexes nested 40 deep) stop with a typed error; 12 deep load and plan normally', async () => {
    const shallow = nestedIndexes(12);
    const client = new RegistryClient({ url: fake.url });
    const graph = await loadGraph(client, { repositories: ['app'] });
    const plan = planCleanup(graph, []);
    // Deleted top-down: every index before what it lists.
    expect(plan.delete.map((op) => op.image)).toEqual(
      [...shallow.all].reverse().map((d) => `app@${d}`),
    );
    fake.tags('app').delete('top');
    nestedIndexes(40);
    const error = await loadGraph(client, { repositories: ['app'] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MalformedManifestError);
    expect((error as Error).message).toMatch(/nest deeper than 16 levels/);
  });

  it('(fake: a cycle between two indexes) cannot be served with matching digests: DigestMismatchError', async () => {
    const a = sha('index a');
    const b = sha('index b');
    const list = (child: string) =>
      Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: INDEX,
          manifests: [{ mediaType: INDEX, digest: child, size: 100 }],
        }),
      );
    fake.manifests.set(a, { bytes: list(b), mediaType: INDEX });
    fake.manifests.set(b, { bytes: list(a), mediaType: INDEX });
    fake.tags('app').set('loop', a);
    const error = await loadGraph(new RegistryClient({ url: fake.url }), {
      repositories: ['app'],
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DigestMismatchError);
  });

  it('(fake: tag list over 32 MiB, or not JSON) is a MalformedResponseError', async () => {
    // Sent without Content-Length: the limit must hold while streaming, too.
    const huge = `{"name":"app","tags":["${'x'.repeat(33 * 1024 * 1024)}"]}`;
    expect(huge.length).toBeGreaterThan(32 * 1024 * 1024);
    answer('/v2/app/tags/list', huge);
    const client = new RegistryClient({ url: fake.url });
    const error = await client.listTags('app').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MalformedResponseError);
    expect((error as Error).message).toMatch(/over 33554432 bytes/);
    answer('/v2/app/tags/list', '{"name":"app","tags":["a",');
    await expect(client.listTags('app')).rejects.toThrow(/not valid JSON/);
    answer('/v2/app/tags/list', { name: 'app', tags: 'v1' });
    await expect(client.listTags('app')).rejects.toThrow(MalformedResponseError);
  });

  it('(fake: token answer over 1 MiB) is refused as an AuthError', async () => {
    fake.hook = (req, res, url) => {
      if (url.pathname === '/token') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(`{"token":"${'t'.repeat(2 * 1024 * 1024)}"}`);
        return true;
      }
      if (!req.headers.authorization) {
        res.writeHead(401, {
          'www-authenticate': `Bearer realm="${fake.url}/token",service="fake"`,
        });
        res.end();
        return true;
      }
      return false;
    };
    const client = new RegistryClient({ url: fake.url, auth: { username: 'u', password: 'p' } });
    const error = await client.listTags('app').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthError);
    expect((error as Error).message).toMatch(/at most 1048576 bytes/);
  });
});
