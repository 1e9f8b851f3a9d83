/**
 * Every read is bounded in time, body included, and every list in total size across its pages.
 * The slow body comes from the real registry behind a fault proxy that drips it; the endless
 * lists come from the in-process fake registry (a correct registry never serves them).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  ListLimitError,
  RegistryClient,
  RegistryUnreachableError,
} from '../../src/registry/index.js';
import { type FakeRegistry, imageManifest, startFakeRegistry } from '../helpers/fake-registry.js';
import { type FaultProxy, startFaultProxy } from '../helpers/fault-proxy.js';
import { pushImage } from '../helpers/push.js';
import { type RunningRegistry, startRegistry } from '../helpers/registry-server.js';
import { makeCertificates } from '../helpers/tls.js';

const OCI = 'application/vnd.oci.image.manifest.v1+json';

/** The outcome of `promise`, or `'still running'` after `ms`. */
async function within(ms: number, promise: Promise<unknown>): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise((resolve) => {
    timer = setTimeout(() => resolve('still running'), ms);
  });
  try {
    return await Promise.race([promise.catch((e: unknown) => e), late]);
  } finally {
    clearTimeout(timer);
  }
}

describe('a body dripped one byte at a time (real registry behind a fault proxy that drips)', () => {
  let dir: string;
  let registry: RunningRegistry;
  let proxy: FaultProxy;
  let tlsProxy: FaultProxy;
  let caFile: string;
  let digest: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'regprune-drip-'));
    const certs = await makeCertificates(dir);
    caFile = certs.caFile;
    registry = await startRegistry();
    digest = (await pushImage({ url: registry.url }, 'app', { tag: 'v1', salt: 'drip' })).digest;
    proxy = await startFaultProxy(registry.url);
    tlsProxy = await startFaultProxy(registry.url, { tls: certs });
  });
  afterAll(async () => {
    await proxy?.stop();
    await tlsProxy?.stop();
    await registry?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  for (const scheme of ['http', 'https'] as const) {
    it(`(${scheme}) the timeout covers the body: a typed error within a few seconds`, async () => {
      const front = scheme === 'http' ? proxy : tlsProxy;
      // A byte every 200 ms: never idle for long, but the manifest would take over a minute.
      front.setRules([{ path: /\/manifests\//, nth: 'all', fault: { kind: 'drip', ms: 200 } }]);
      const client = new RegistryClient({
        url: front.url,
        timeout: 1000,
        retry: { limit: 1, baseDelay: 5 },
        ...(scheme === 'https' ? { caFile } : {}),
      });
      const started = Date.now();
      const error = await within(8_000, client.getManifest('app', digest));
      expect(error).toBeInstanceOf(RegistryUnreachableError);
      expect((error as Error).message).toMatch(/within 1000 ms/);
      expect(Date.now() - started).toBeLessThan(5_000);
      front.setRules([]);
      expect((await client.getManifest('app', digest))?.digest).toBe(digest);
    });
  }
});

describe('endless lists (fake registry serving endless pages)', () => {
  let fake: FakeRegistry;
  beforeEach(async () => {
    fake = await startFakeRegistry();
  });
  afterEach(async () => {
    await fake.stop();
  });

  /** Pages of 10 new names, each with a fresh `Link` to the next. */
  function endlessPages(match: RegExp, field: 'tags' | 'repositories'): void {
    fake.hook = (_req, res, url) => {
      if (!match.test(url.pathname)) return false;
      const page = Number(url.searchParams.get('last') ?? '0');
      const names = Array.from({ length: 10 }, (_, i) => `n${page}-${i}`);
      res.writeHead(200, {
        'content-type': 'application/json',
        link: `<${url.pathname}?last=${page + 1}&n=10>; rel="next"`,
      });
      res.end(JSON.stringify({ [field]: names }));
      return true;
    };
  }

  it('(fake: endless tag-list pages) stop at the entries limit with a ListLimitError naming the registry and the limit', async () => {
    endlessPages(/\/tags\/list$/, 'tags');
    const client = new RegistryClient({ url: fake.url, listLimits: { entries: 100 } });
    const error = await within(5_000, client.listTags('app'));
    expect(error).toBeInstanceOf(ListLimitError);
    expect((error as ListLimitError).limit).toBe('entries');
    expect((error as Error).message).toContain(new URL(fake.url).host);
    expect((error as Error).message).toMatch(/100 entries/);
    expect((error as Error).message).toMatch(/listLimits\.entries/);
    expect(fake.log.length).toBeLessThanOrEqual(12);
  });

  it('(fake: endless catalog pages) stop at the bytes limit', async () => {
    endlessPages(/^\/v2\/_catalog$/, 'repositories');
    const client = new RegistryClient({ url: fake.url, listLimits: { bytes: 2_000 } });
    const error = await within(5_000, client.catalog());
    expect(error).toBeInstanceOf(ListLimitError);
    expect((error as ListLimitError).limit).toBe('bytes');
    expect((error as Error).message).toMatch(/2000 bytes/);
    // About 100 bytes a page.
    expect(fake.log.length).toBeLessThanOrEqual(25);
  });

  it('(fake: endless referrers pages, an API distribution 2.8 lacks) stop at the entries limit', async () => {
    const subject = fake.put('app', imageManifest('s'), OCI, 'v1');
    fake.hook = (_req, res, url) => {
      if (!url.pathname.includes('/referrers/')) return false;
      const page = Number(url.searchParams.get('page') ?? '0');
      const manifests = Array.from({ length: 10 }, (_, i) => ({
        mediaType: OCI,
        digest: `sha256:${(page * 10 + i).toString(16).padStart(64, '0')}`,
        size: 100,
        artifactType: 'application/example',
      }));
      res.writeHead(200, {
        'content-type': 'application/vnd.oci.image.index.v1+json',
        link: `<${url.pathname}?page=${page + 1}>; rel="next"`,
      });
      res.end(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.index.v1+json',
          manifests,
        }),
      );
      return true;
    };
    const client = new RegistryClient({ url: fake.url, listLimits: { entries: 50 } });
    const error = await within(5_000, client.listReferrers('app', subject.digest));
    expect(error).toBeInstanceOf(ListLimitError);
    expect((error as Error).message).toMatch(/50 entries/);
    expect(fake.log.length).toBeLessThanOrEqual(7);
  });

  it('(fake: a token service that drips its answer) a typed error naming the token service, within a few seconds', async () => {
    fake.hook = (req, res, url) => {
      if (url.pathname === '/token') {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
        const timer = setInterval(() => res.write(' '), 200);
        res.on('close', () => clearInterval(timer));
        return true;
      }
      if (req.headers.authorization) return false;
      res.writeHead(401, { 'www-authenticate': `Bearer realm="${fake.url}/token",service="fake"` });
      res.end();
      return true;
    };
    const client = new RegistryClient({
      url: fake.url,
      auth: { username: 'u', password: 'p' },
      timeout: 1000,
      retry: { limit: 0 },
    });
    const started = Date.now();
    const error = await within(8_000, client.deleteManifest('app', 'sha256:'.padEnd(71, '0')));
    expect(error).toBeInstanceOf(RegistryUnreachableError);
    expect((error as Error).message).toContain(`${fake.url}/token`);
    expect((error as Error).message).toMatch(/within 1000 ms/);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('(fake: long but finite tag list) under the limits is read whole', async () => {
    endlessPages(/\/tags\/list$/, 'tags');
    const base = fake.hook;
    fake.hook = (req, res, url) => {
      if (url.searchParams.get('last') === '5') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ tags: ['last'] }));
        return true;
      }
      return base?.(req, res, url);
    };
    const client = new RegistryClient({ url: fake.url, listLimits: { entries: 51 } });
    expect(await client.listTags('app')).toHaveLength(51);
    expect(() => new RegistryClient({ url: fake.url, listLimits: { entries: 0 } })).toThrow(
      /listLimits\.entries must be a positive whole number/,
    );
  });
});
