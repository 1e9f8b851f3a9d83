/**
 * Credentials and challenges belong to the registry's own origin. A redirect target or a `Link`
 * target on another origin gets no Authorization header, and its 401 challenge is never adopted:
 * no token request goes to the realm it names. The registry is the real docker-registry with
 * htpasswd Basic auth (or token auth, for the identity token); the fakes are named in each test: a fault proxy in front of it (the
 * registry's origin, adding redirects and Links), a "CDN" (another origin) and an "attacker"
 * token realm, both small in-process servers that record what they receive.
 */

import { mkdtemp, rm } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AuthError,
  loadGraph,
  PaginationLoopError,
  RegistryClient,
} from '../../src/registry/index.js';
import { type FaultProxy, startFaultProxy } from '../helpers/fault-proxy.js';
import {
  type ForeignServer,
  type ReceivedRequest,
  startForeignServer,
} from '../helpers/foreign-server.js';
import { startPasswordRegistry } from '../helpers/password-registry.js';
import { pushImage } from '../helpers/push.js';
import { type RunningRegistry, startRegistry } from '../helpers/registry-server.js';
import { makeCertificates } from '../helpers/tls.js';
import { startTokenServer, type TokenServer } from '../helpers/token-server.js';

const PASSWORD = 'cdn-test-pw-5b1e';
const SECRET = Buffer.from(`alice:${PASSWORD}`).toString('base64');
const REFRESH = 'refresh-token-9d27c4';

/** The attacker's realm: grants any token to whoever asks (and records the asking). */
const grantAnything = (_req: ReceivedRequest, res: ServerResponse) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end('{"token":"attacker-token","expires_in":300}');
};

/** A CDN that demands Bearer auth from the attacker's realm. */
const challengeWith = (realm: () => string) => (_req: ReceivedRequest, res: ServerResponse) => {
  res.writeHead(401, {
    'www-authenticate': `Bearer realm="${realm()}/token",service="cdn",scope="repository:app:pull"`,
    'content-type': 'application/json',
  });
  res.end('{"errors":[{"code":"UNAUTHORIZED"}]}');
};

function assertNothingLeaked(cdn: ForeignServer, attacker: ForeignServer): void {
  expect(attacker.received).toEqual([]);
  for (const req of cdn.received) {
    expect(req.headers.authorization, `${req.method} ${req.path}`).toBeUndefined();
    expect(JSON.stringify(req)).not.toContain(SECRET);
    expect(JSON.stringify(req)).not.toContain(PASSWORD);
    expect(JSON.stringify(req)).not.toContain(REFRESH);
  }
}

describe('a 401 from another origin is never adopted (real registry, htpasswd)', () => {
  let registry: RunningRegistry;
  let proxy: FaultProxy;
  let cdn: ForeignServer;
  let attacker: ForeignServer;
  beforeAll(async () => {
    const started = await startPasswordRegistry('alice', PASSWORD);
    registry = started.registry;
    await pushImage(started.target, 'app', { tag: 'v1', salt: 'cdn' });
    proxy = await startFaultProxy(registry.url);
    attacker = await startForeignServer(grantAnything);
    cdn = await startForeignServer(challengeWith(() => attacker.url));
  });
  afterAll(async () => {
    await proxy?.stop();
    await cdn?.stop();
    await attacker?.stop();
    await registry?.stop();
  });
  const client = () =>
    new RegistryClient({
      url: proxy.url,
      auth: { username: 'alice', password: PASSWORD },
      retry: { limit: 1, baseDelay: 5 },
    });

  it('(fake proxy redirects blobs to a fake CDN on another port answering 401 Bearer with a fake attacker realm) the config read fails with AuthError naming the CDN; the attacker gets nothing', async () => {
    cdn.received.length = 0;
    proxy.setRules([
      { method: 'GET', path: /\/blobs\//, nth: 'all', fault: { kind: 'redirect', to: cdn.url } },
    ]);
    const error = await loadGraph(client(), { repositories: ['app'], dates: true }).catch(
      (e: unknown) => e,
    );
    assertNothingLeaked(cdn, attacker);
    expect(error).toBeInstanceOf(AuthError);
    expect((error as Error).message).toContain(cdn.host);
    expect((error as Error).message).toMatch(/not the registry/);
    expect(cdn.received.length).toBeGreaterThan(0);
  });

  it('(fake proxy redirects blobs to a fake CDN that serves them) the redirect target gets no Authorization header, and the load succeeds', async () => {
    const serving = await startForeignServer((req, res) => {
      // The CDN fetches the blob from the real registry itself, as storage behind a CDN would.
      fetch(`${registry.url}${req.path}`, { headers: { authorization: `Basic ${SECRET}` } })
        .then(async (upstream) => {
          res.writeHead(upstream.status, { 'content-type': 'application/octet-stream' });
          res.end(Buffer.from(await upstream.arrayBuffer()));
        })
        .catch(() => res.writeHead(502).end());
    });
    try {
      proxy.setRules([
        {
          method: 'GET',
          path: /\/blobs\//,
          nth: 'all',
          fault: { kind: 'redirect', to: serving.url },
        },
      ]);
      const graph = await loadGraph(client(), { repositories: ['app'], dates: true });
      expect(graph.tags()).toEqual(['app:v1']);
      expect(serving.received.length).toBeGreaterThan(0);
      for (const req of serving.received) expect(req.headers.authorization).toBeUndefined();
    } finally {
      await serving.stop();
    }
  });

  it('(fake proxy adds a catalog Link to a fake foreign origin) a cross-origin Link is not followed: PaginationLoopError names the host; neither it nor the attacker gets a request', async () => {
    cdn.received.length = 0;
    proxy.setRules([
      {
        method: 'GET',
        path: /^\/v2\/_catalog/,
        nth: 'all',
        fault: { kind: 'link', next: `${cdn.url}/v2/_catalog?last=app&n=1000` },
      },
    ]);
    const error = await loadGraph(client()).catch((e: unknown) => e);
    assertNothingLeaked(cdn, attacker);
    expect(error).toBeInstanceOf(PaginationLoopError);
    expect((error as Error).message).toContain(cdn.host);
    expect((error as Error).message).toMatch(/another origin/);
    expect(cdn.received).toEqual([]);
  });

  it('(fake proxy adds a same-origin catalog Link whose page it redirects to a fake foreign origin answering 401) AuthError names the host; the attacker gets nothing', async () => {
    cdn.received.length = 0;
    proxy.setRules([
      {
        method: 'GET',
        path: /^\/v2\/_catalog\?n=/,
        nth: 'all',
        fault: { kind: 'link', next: '/v2/_catalog?last=app&n=1000' },
      },
      {
        method: 'GET',
        path: /^\/v2\/_catalog\?last=app/,
        nth: 'all',
        fault: { kind: 'redirect', to: cdn.url },
      },
    ]);
    const error = await loadGraph(client()).catch((e: unknown) => e);
    assertNothingLeaked(cdn, attacker);
    expect(error).toBeInstanceOf(AuthError);
    expect((error as Error).message).toContain(cdn.host);
    expect(cdn.received.length).toBeGreaterThan(0);
  });
});

describe('the same over HTTPS with a private CA (real registry, htpasswd, behind a fake TLS-terminating proxy)', () => {
  let dir: string;
  let registry: RunningRegistry;
  let proxy: FaultProxy;
  let cdn: ForeignServer;
  let attacker: ForeignServer;
  let caFile: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'regprune-foreign-tls-'));
    const certs = await makeCertificates(dir);
    caFile = certs.caFile;
    const started = await startPasswordRegistry('alice', PASSWORD);
    registry = started.registry;
    await pushImage(started.target, 'app', { tag: 'v1', salt: 'cdn-tls' });
    proxy = await startFaultProxy(registry.url, { tls: certs });
    attacker = await startForeignServer(grantAnything, { tls: certs });
    cdn = await startForeignServer(
      challengeWith(() => attacker.url),
      { tls: certs },
    );
  });
  afterAll(async () => {
    await proxy?.stop();
    await cdn?.stop();
    await attacker?.stop();
    await registry?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('(fake HTTPS CDN answering 401 Bearer with a fake HTTPS attacker realm) AuthError names the CDN; the attacker gets nothing', async () => {
    expect(proxy.url).toMatch(/^https:/);
    proxy.setRules([
      { method: 'GET', path: /\/blobs\//, nth: 'all', fault: { kind: 'redirect', to: cdn.url } },
    ]);
    const client = new RegistryClient({
      url: proxy.url,
      auth: { username: 'alice', password: PASSWORD },
      caFile,
      retry: { limit: 1, baseDelay: 5 },
    });
    const error = await loadGraph(client, { repositories: ['app'], dates: true }).catch(
      (e: unknown) => e,
    );
    assertNothingLeaked(cdn, attacker);
    expect(error).toBeInstanceOf(AuthError);
    expect((error as Error).message).toContain(cdn.host);
    expect(cdn.received.length).toBeGreaterThan(0);
  });
});

describe('an identity token (real registry with token auth, the test token service)', () => {
  let dir: string;
  let tokens: TokenServer;
  let registry: RunningRegistry;
  let proxy: FaultProxy;
  let cdn: ForeignServer;
  let attacker: ForeignServer;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'regprune-foreign-token-'));
    tokens = await startTokenServer(dir, {
      alice: { password: PASSWORD, actions: ['pull', 'push'], refreshToken: REFRESH },
    });
    registry = await startRegistry({
      auth: 'token',
      token: {
        realm: tokens.realm,
        service: tokens.service,
        issuer: tokens.issuer,
        rootCertBundle: tokens.certPath,
      },
    });
    const pusher = {
      url: registry.url,
      headers: (repo: string) => ({
        authorization: `Bearer ${tokens.mint('alice', [`repository:${repo}:pull,push`])}`,
      }),
    };
    await pushImage(pusher, 'app', { tag: 'v1', salt: 'cdn-token' });
    proxy = await startFaultProxy(registry.url);
    attacker = await startForeignServer(grantAnything);
    cdn = await startForeignServer(challengeWith(() => attacker.url));
  });
  afterAll(async () => {
    await proxy?.stop();
    await cdn?.stop();
    await attacker?.stop();
    await registry?.stop();
    await tokens?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('(fake proxy redirects blobs to a fake CDN answering 401 Bearer with a fake attacker realm) the refresh token is never POSTed there', async () => {
    proxy.setRules([
      { method: 'GET', path: /\/blobs\//, nth: 'all', fault: { kind: 'redirect', to: cdn.url } },
    ]);
    const client = new RegistryClient({
      url: proxy.url,
      auth: { identityToken: REFRESH },
      retry: { limit: 1, baseDelay: 5 },
    });
    const error = await loadGraph(client, { repositories: ['app'], dates: true }).catch(
      (e: unknown) => e,
    );
    assertNothingLeaked(cdn, attacker);
    expect(error).toBeInstanceOf(AuthError);
    expect((error as Error).message).toContain(cdn.host);
    expect(cdn.received.length).toBeGreaterThan(0);
    // The registry's own realm was used (the identity token works there).
    expect(tokens.requested).toContain('repository:app:pull');
  });
});
