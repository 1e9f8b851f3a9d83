import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { planCleanup } from '../../src/index.js';
import {
  applyPlan,
  DigestMismatchError,
  InvalidReferenceError,
  loadGraph,
  ManifestTooLargeError,
  PaginationLoopError,
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

describe('fake (spec): referrers API with paging', () => {
  it('lists referrers page by page (Link rel="next") and attaches them to their subject', async () => {
    const subject = fake.put('app', imageManifest('s'), OCI, 'v1');
    const subjectDesc = { mediaType: OCI, digest: subject.digest, size: subject.size };
    const sig = fake.put(
      'app',
      imageManifest('sig', { artifactType: 'application/vnd.example.sig', subject: subjectDesc }),
      OCI,
    );
    const sbom = fake.put(
      'app',
      imageManifest('sbom', { artifactType: 'application/spdx+json', subject: subjectDesc }),
      OCI,
    );
    const other = fake.put('app', imageManifest('o'), OCI, 'old');
    const client = new RegistryClient({ url: fake.url });
    const graph = await loadGraph(client, { repositories: ['app'] });
    expect(client.referrersApi).toBe(true);
    expect(graph.sourcesOf(`app@${subject.digest}`, 'referrer')).toEqual(
      [`app@${sig.digest}`, `app@${sbom.digest}`].sort(),
    );
    expect(graph.imageInfo(`app@${sbom.digest}`)?.artifactType).toBe('application/spdx+json');
    // Two pages for the subject's referrers (page size 1).
    expect(
      fake.log.filter((l) => l.startsWith(`GET /v2/app/referrers/${subject.digest}`)),
    ).toHaveLength(2);
    const plan = planCleanup(graph, ['app:v1']);
    expect(plan.delete.map((op) => op.image)).toEqual([`app@${other.digest}`]);
  });
});

describe('fake (spec): tag DELETE answering 202', () => {
  it('untags with DELETE /manifests/<tag>, without a placeholder push', async () => {
    const img = fake.put('app', imageManifest('a'), OCI, 'keep');
    fake.tags('app').set('alias', img.digest);
    const client = new RegistryClient({ url: fake.url });
    const graph = await loadGraph(client, { repositories: ['app'] });
    const plan = planCleanup(graph, ['app:keep']);
    const result = await applyPlan(client, plan, { graph });
    expect(result.outcomes).toEqual([
      expect.objectContaining({
        action: 'untag',
        id: 'app:alias',
        status: 'done',
        reason: 'deleted the tag',
      }),
    ]);
    expect(fake.log).toContain('DELETE /v2/app/manifests/alias');
    expect(fake.log.some((l) => l.startsWith('PUT'))).toBe(false);
    expect([...fake.tags('app').keys()]).toEqual(['keep']);
    expect(fake.manifests.has(img.digest)).toBe(true);
  });
});

describe('fake (zot issue 67): a tag DELETE that deletes the manifest behind the tag', () => {
  /** `DELETE /manifests/<tag>` answered 202 by deleting the manifest and every tag on it. */
  function deleteManifestOnTagDelete(): void {
    fake.hook = (req, res, url) => {
      const m = /^\/v2\/(.+)\/manifests\/([^/:]+)$/.exec(url.pathname);
      if (req.method !== 'DELETE' || !m) return false;
      const tags = fake.tags(m[1] as string);
      const digest = tags.get(m[2] as string);
      if (!digest) return false;
      fake.manifests.delete(digest);
      for (const [t, d] of tags) if (d === digest) tags.delete(t);
      res.writeHead(202).end();
      return true;
    };
  }

  it('the first tag DELETE is checked: the image is pushed back with its kept tags, later untags use a placeholder', async () => {
    const first = fake.put('app', imageManifest('a'), OCI, 'keep');
    fake.tags('app').set('alias', first.digest);
    const second = fake.put('app', imageManifest('b'), OCI, 'keep-b');
    fake.tags('app').set('alias-b', second.digest);
    deleteManifestOnTagDelete();
    const client = new RegistryClient({ url: fake.url });
    const graph = await loadGraph(client, { repositories: ['app'] });
    const plan = planCleanup(graph, ['app:keep', 'app:keep-b']);
    expect(plan.untag.map((op) => op.tag)).toEqual(['app:alias', 'app:alias-b']);
    const result = await applyPlan(client, plan, { graph });

    // Both kept images and their kept tags are there; the untagged tags are gone.
    expect(fake.manifests.has(first.digest)).toBe(true);
    expect(fake.manifests.has(second.digest)).toBe(true);
    expect(Object.fromEntries(fake.tags('app'))).toEqual({
      keep: first.digest,
      'keep-b': second.digest,
    });
    const reasons = result.outcomes.map((o) => [o.id, o.status, o.reason]);
    expect(reasons).toContainEqual([
      expect.stringMatching(/^app:alias/),
      'done',
      expect.stringMatching(
        /deleted the image with the tag \(its tag DELETE is unsafe\): pushed app@sha256:[0-9a-f]+ back at once with its kept tags keep/,
      ),
    ]);
    expect(reasons).toContainEqual([
      expect.stringMatching(/^app:alias/),
      'done',
      expect.stringMatching(/pushed a unique placeholder/),
    ]);
    // Exactly one tag DELETE was ever sent: the untags waited for what the first one found.
    expect(fake.log.filter((l) => /^DELETE \/v2\/app\/manifests\/alias/.test(l))).toHaveLength(1);
    expect(client.tagDeleteSupported).toBe(false);
  });
});

describe('fake (spec): 429 with Retry-After, 503 and connection resets', () => {
  it('waits as told and retries, then succeeds', async () => {
    fake.put('app', imageManifest('a'), OCI, 'v1');
    let limited = 0;
    fake.hook = (_req, res, url) => {
      if (url.pathname.endsWith('/tags/list') && limited < 2) {
        limited++;
        res.writeHead(429, { 'retry-after': '0' }).end();
        return true;
      }
      return false;
    };
    const client = new RegistryClient({ url: fake.url, retry: { limit: 3, baseDelay: 1 } });
    expect(await client.listTags('app')).toEqual(['v1']);
    expect(fake.log.filter((l) => l.endsWith('/tags/list'))).toHaveLength(3);
  });

  it('gives up after the retry limit with a typed error naming the request', async () => {
    fake.hook = (_req, res) => {
      res.writeHead(503).end();
      return true;
    };
    const client = new RegistryClient({ url: fake.url, retry: { limit: 2, baseDelay: 1 } });
    const error = await client.listTags('app').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RegistryHttpError);
    expect((error as RegistryHttpError).status).toBe(503);
    expect((error as Error).message).toMatch(
      /GET .*\/v2\/app\/tags\/list .*gave up after 3 attempts/,
    );
    expect(fake.log).toHaveLength(3);
  });

  it('does not wait for a Retry-After beyond maxDelay', async () => {
    fake.hook = (_req, res) => {
      res.writeHead(429, { 'retry-after': '3600' }).end();
      return true;
    };
    const client = new RegistryClient({ url: fake.url, retry: { limit: 5, maxDelay: 1000 } });
    const error = await client.listTags('app').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RegistryHttpError);
    expect((error as Error).message).toMatch(/Retry-After asks for 3600 s/);
    expect(fake.log).toHaveLength(1);
  });

  it('retries a reset connection', async () => {
    fake.put('app', imageManifest('a'), OCI, 'v1');
    let resets = 0;
    fake.hook = (req) => {
      if (resets === 0) {
        resets++;
        req.socket.destroy();
        return true;
      }
      return false;
    };
    const client = new RegistryClient({ url: fake.url, retry: { limit: 2, baseDelay: 1 } });
    expect(await client.listTags('app')).toEqual(['v1']);
    fake.hook = (req) => {
      req.socket.destroy();
      return true;
    };
    await expect(client.listTags('app')).rejects.toThrow(RegistryUnreachableError);
  });
});

describe('broken registry (a correct one never does this): typed errors', () => {
  it('a Link loop on tags/list is a PaginationLoopError', async () => {
    fake.hook = (_req, res, url) => {
      if (!url.pathname.endsWith('/tags/list')) return false;
      res.writeHead(200, {
        'content-type': 'application/json',
        link: '</v2/app/tags/list?last=x>; rel="next"',
      });
      res.end('{"name":"app","tags":["a"]}');
      return true;
    };
    const client = new RegistryClient({ url: fake.url });
    await expect(client.listTags('app')).rejects.toThrow(PaginationLoopError);
  });

  it('follows relative and absolute Link targets on the catalog', async () => {
    fake.hook = (_req, res, url) => {
      if (url.pathname !== '/v2/_catalog') return false;
      const page = url.searchParams.get('last');
      const next =
        page === null
          ? '</v2/_catalog?last=a&n=1000>'
          : page === 'a'
            ? `<${fake.url}/v2/_catalog?last=b>`
            : undefined;
      res.writeHead(200, {
        'content-type': 'application/json',
        ...(next ? { link: `${next}; rel="next"` } : {}),
      });
      res.end(JSON.stringify({ repositories: [page === null ? 'a' : page === 'a' ? 'b' : 'c/d'] }));
      return true;
    };
    const client = new RegistryClient({ url: fake.url });
    expect(await client.catalog()).toEqual(['a', 'b', 'c/d']);
  });

  it('a body that does not match its digest is a DigestMismatchError', async () => {
    const img = fake.put('app', imageManifest('a'), OCI, 'v1');
    (fake.manifests.get(img.digest) as { bytes: Buffer }).bytes = Buffer.from(
      JSON.stringify(imageManifest('b')),
    );
    const client = new RegistryClient({ url: fake.url });
    await expect(client.getManifest('app', img.digest)).rejects.toThrow(DigestMismatchError);
    await expect(loadGraph(client, { repositories: ['app'] })).rejects.toThrow(DigestMismatchError);
  });

  it('a manifest over 4 MiB is refused', async () => {
    fake.put(
      'app',
      imageManifest('a', { annotations: { big: 'x'.repeat(4 * 1024 * 1024) } }),
      OCI,
      'v1',
    );
    const client = new RegistryClient({ url: fake.url });
    await expect(loadGraph(client, { repositories: ['app'] })).rejects.toThrow(
      ManifestTooLargeError,
    );
  });

  it('a tag outside the distribution grammar is an InvalidReferenceError', async () => {
    fake.hook = (_req, res, url) => {
      if (!url.pathname.endsWith('/tags/list')) return false;
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end('{"name":"app","tags":["../etc"]}');
      return true;
    };
    const client = new RegistryClient({ url: fake.url });
    await expect(loadGraph(client, { repositories: ['app'] })).rejects.toThrow(
      InvalidReferenceError,
    );
  });

  it('when the re-check cannot read the tags, nothing unchecked is deleted', async () => {
    fake.put('app', imageManifest('k'), OCI, 'keep');
    const drop = fake.put('app', imageManifest('d'), OCI, 'drop');
    const client = new RegistryClient({ url: fake.url, retry: { limit: 0 } });
    const graph = await loadGraph(client, { repositories: ['app'] });
    const plan = planCleanup(graph, ['app:keep']);
    fake.hook = (_req, res, url) => {
      if (!url.pathname.endsWith('/tags/list')) return false;
      res.writeHead(500).end();
      return true;
    };
    const result = await applyPlan(client, plan, { graph });
    expect(result.outcomes).toEqual([
      expect.objectContaining({ id: `app@${drop.digest}`, status: 'failed' }),
    ]);
    expect(result.outcomes[0]?.reason).toMatch(/not deleted: GET .*tags\/list answered HTTP 500/);
    expect(fake.manifests.has(drop.digest)).toBe(true);
    expect(result.reclaimableBytes).toBe(0);
  });
});

describe('fake (distribution 2.8 race): a digest DELETE answering 500 UNKNOWN once', () => {
  it('is retried (a digest DELETE is idempotent) and the image is deleted', async () => {
    const keep = fake.put('app', imageManifest('k'), OCI, 'keep');
    const drop = fake.put('app', imageManifest('d'), OCI, 'drop');
    let failedOnce = false;
    fake.hook = (req, res, url) => {
      if (req.method !== 'DELETE' || !url.pathname.endsWith(drop.digest) || failedOnce) return;
      failedOnce = true;
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ code: 'UNKNOWN', message: 'unknown error' }] }));
      return true;
    };
    const client = new RegistryClient({ url: fake.url });
    const graph = await loadGraph(client, { repositories: ['app'] });
    const result = await applyPlan(client, planCleanup(graph, ['app:keep']), { graph });
    expect(failedOnce).toBe(true);
    expect(result.totals).toMatchObject({ done: 1, failed: 0 });
    expect(fake.log.filter((l) => l === `DELETE /v2/app/manifests/${drop.digest}`)).toHaveLength(2);
    expect(fake.manifests.has(drop.digest)).toBe(false);
    expect(fake.tags('app').has('drop')).toBe(false);
    expect(fake.tags('app').get('keep')).toBe(keep.digest);
  });
});
