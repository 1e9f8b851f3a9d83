import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect, promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planCleanup, RegpruneError } from '../../src/index.js';
import {
  AuthError,
  applyPlan,
  DigestMismatchError,
  InsecureCredentialsError,
  loadGraph,
  RegistryClient,
  RegistryHttpError,
  RegistryUnreachableError,
} from '../../src/registry/index.js';
import { type FaultProxy, startFaultProxy } from '../helpers/fault-proxy.js';
import { pushImage } from '../helpers/push.js';
import { freePort, type RunningRegistry, startRegistry } from '../helpers/registry-server.js';
import { makeCertificates } from '../helpers/tls.js';
import { startTokenServer, type TokenServer } from '../helpers/token-server.js';

const run = promisify(execFile);
const PASSWORD = 'Kn0wn-p4ss-7f3c9e';
const basic = (user: string, password: string) =>
  Buffer.from(`${user}:${password}`).toString('base64');
/** Every form the password could leak in. */
const FORMS = [
  PASSWORD,
  basic('alice', PASSWORD),
  basic('mallory', PASSWORD),
  Buffer.from(PASSWORD).toString('base64'),
  encodeURIComponent(PASSWORD),
];

/** Message, stack, causes and the full inspection of an error (what a log would print). */
function renderings(error: unknown): string[] {
  const out = [inspect(error, { depth: 10 }), JSON.stringify(error) ?? '', String(error)];
  let current: unknown = error;
  for (let i = 0; current instanceof Error && i < 10; i++) {
    out.push(current.message, current.stack ?? '');
    current = current.cause;
  }
  return out;
}

function assertNoSecret(what: string, texts: string[]): void {
  for (const text of texts)
    for (const form of FORMS) expect(text.includes(form), `${what} holds ${form}`).toBe(false);
}

describe('credentials never appear in errors, results, plans or journals (real registry, htpasswd)', () => {
  let reg: RunningRegistry;
  let proxy: FaultProxy;
  let dir: string;
  const target = () => ({
    url: reg.url,
    headers: () => ({ authorization: `Basic ${basic('alice', PASSWORD)}` }),
  });
  beforeAll(async () => {
    reg = await startRegistry({ auth: 'htpasswd', users: { alice: PASSWORD } });
    proxy = await startFaultProxy(reg.url);
    dir = await mkdtemp(join(tmpdir(), 'regprune-secret-'));
    await pushImage(target(), 'app', { tag: 'keep', salt: 'k' });
    await pushImage(target(), 'app', { tag: 'drop1', salt: 'd1' });
    await pushImage(target(), 'app', { tag: 'drop2', salt: 'd2' });
  });
  afterAll(async () => {
    await proxy?.stop();
    await reg?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  // A short deadline only where a stall is the point: elsewhere a slow machine must not turn a
  // bcrypt-checked answer into a timeout.
  const client = (url: string, username = 'alice', timeout = 10_000) =>
    new RegistryClient({
      url,
      auth: { username, password: PASSWORD },
      timeout,
      retry: { limit: 1, baseDelay: 5 },
    });

  it('failing loads: wrong registry, 401, 5xx, a stall, a digest mismatch', async () => {
    const failures: Array<[string, () => Promise<unknown>, new (...a: never[]) => Error]> = [
      [
        'wrong registry',
        async () => loadGraph(client(`http://127.0.0.1:${await freePort()}`)),
        RegistryUnreachableError,
      ],
      ['401', () => loadGraph(client(reg.url, 'mallory'), { repositories: ['app'] }), AuthError],
      [
        '5xx',
        () => {
          proxy.setRules([
            { path: /tags\/list/, nth: 'all', fault: { kind: 'status', status: 500 } },
          ]);
          return loadGraph(client(proxy.url), { repositories: ['app'] });
        },
        RegistryHttpError,
      ],
      [
        'stall',
        () => {
          // Manifest requests come after the challenge, so they carry the Authorization header.
          proxy.setRules([{ path: /manifests/, nth: 'all', fault: { kind: 'stall', ms: 500 } }]);
          return loadGraph(client(proxy.url, 'alice', 300), { repositories: ['app'] });
        },
        RegistryUnreachableError,
      ],
      [
        'digest mismatch',
        () => {
          proxy.setRules([{ path: /manifests/, nth: 'all', fault: { kind: 'corrupt' } }]);
          return loadGraph(client(proxy.url), { repositories: ['app'] });
        },
        DigestMismatchError,
      ],
    ];
    for (const [what, attempt, type] of failures) {
      const error = await attempt().then(
        () => new Error(`${what}: did not fail`),
        (e: unknown) => e,
      );
      expect(error, what).toBeInstanceOf(type);
      assertNoSecret(what, renderings(error));
    }
    proxy.setRules([]);
  });

  it('a failing apply: the result, the plan and the journal hold no secret', async () => {
    const graph = await loadGraph(client(proxy.url), { repositories: ['app'] });
    const plan = planCleanup(graph, ['app:keep']);
    expect(plan.delete).toHaveLength(2);
    const journal = join(dir, 'journal.jsonl');
    proxy.setRules([
      {
        method: 'DELETE',
        path: /manifests\/sha256:(?!0{64})/,
        nth: [1],
        fault: { kind: 'status', status: 500 },
      },
      {
        method: 'DELETE',
        path: /manifests\/sha256:(?!0{64})/,
        nth: [2],
        fault: { kind: 'status', status: 401 },
      },
    ]);
    const result = await applyPlan(client(proxy.url), plan, { graph, journal });
    proxy.setRules([]);
    expect(result.totals.failed).toBeGreaterThan(0);
    assertNoSecret('apply result', [JSON.stringify(result), inspect(result, { depth: 10 })]);
    assertNoSecret('plan', [JSON.stringify(plan)]);
    const text = await readFile(journal, 'utf8');
    expect(text).toMatch(/"type":"intent"/);
    assertNoSecret('journal', [text, Buffer.from(text).toString('base64')]);
    // The journal is private to its owner.
    const { stdout } = await run('stat', ['-c', '%a', journal]);
    expect(stdout.trim()).toBe('600');
  });
});

describe('token realm on another host over plain HTTP', () => {
  let dir: string;
  let tokens: TokenServer;
  let reg: RunningRegistry;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'regprune-realm-'));
    tokens = await startTokenServer(dir, {
      alice: { password: PASSWORD, actions: ['pull'], catalog: true },
    });
    reg = await startRegistry({
      auth: 'token',
      token: {
        realm: 'http://token.regprune.invalid:8080/token',
        service: tokens.service,
        issuer: tokens.issuer,
        rootCertBundle: tokens.certPath,
      },
    });
  });
  afterAll(async () => {
    await reg?.stop();
    await tokens?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses to send credentials there, and sends nothing to it', async () => {
    const seen: string[] = [];
    const spy: typeof fetch = (input, init) => {
      seen.push(input instanceof Request ? input.url : String(input));
      return fetch(input, init);
    };
    const client = new RegistryClient({
      url: reg.url,
      auth: { username: 'alice', password: PASSWORD },
      fetch: spy,
    });
    const error = await loadGraph(client, { repositories: ['app'] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InsecureCredentialsError);
    expect((error as Error).message).toContain('http://token.regprune.invalid:8080/token');
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.filter((url) => url.includes('regprune.invalid'))).toEqual([]);
    assertNoSecret('realm refusal', renderings(error));
  });
});

describe('TLS: verification stays on; a CA is trusted per client', () => {
  let dir: string;
  let reg: RunningRegistry;
  let caFile: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'regprune-tls-'));
    const certs = await makeCertificates(dir);
    caFile = certs.caFile;
    reg = await startRegistry({ tls: certs });
  });
  afterAll(async () => {
    await reg?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('an unknown CA is refused with a typed error; nothing is disabled globally', async () => {
    expect(reg.url).toMatch(/^https:/);
    const plain = new RegistryClient({ url: reg.url, retry: 0 });
    const error = await plain.ping().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RegistryUnreachableError);
    expect(renderings(error).join(' ')).toMatch(/certificate/i);
    expect(() => new RegistryClient({ url: reg.url, ca: 'not a certificate' })).toThrow(TypeError);
  });

  it('with caFile (or ca) the client pushes, loads, plans and applies over HTTPS', async () => {
    const client = new RegistryClient({ url: reg.url, caFile });
    await client.ping();
    const repo = 'tls';
    const empty = await client.ensureBlob(repo, new TextEncoder().encode('{}'));
    const manifest = (salt: string) =>
      new TextEncoder().encode(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: empty, size: 2 },
          layers: [],
          annotations: { salt },
        }),
      );
    const type = 'application/vnd.oci.image.manifest.v1+json';
    await client.putManifest(repo, 'keep', manifest('k'), type);
    const drop = await client.putManifest(repo, 'drop', manifest('d'), type);
    const graph = await loadGraph(client, { repositories: [repo] });
    const result = await applyPlan(client, planCleanup(graph, [`${repo}:keep`]), { graph });
    expect(result.totals).toMatchObject({ done: 1, failed: 0 });
    const withPem = new RegistryClient({ url: reg.url, ca: await readFile(caFile, 'utf8') });
    expect(await withPem.listTags(repo)).toEqual(['keep']);
    expect(await withPem.resolve(repo, drop)).toBeUndefined();
    // Trust stayed with those clients: the process and a fresh client still refuse the CA.
    expect(process.env.NODE_TLS_REJECT_UNAUTHORIZED).toBeUndefined();
    await expect(fetch(`${reg.url}/v2/`)).rejects.toThrow();
    await expect(new RegistryClient({ url: reg.url, retry: 0 }).ping()).rejects.toThrow(
      RegpruneError,
    );
  });
});
