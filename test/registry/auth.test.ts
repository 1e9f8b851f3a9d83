import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planCleanup } from '../../src/index.js';
import {
  AuthError,
  applyPlan,
  credentialsFromDockerConfig,
  InsecureCredentialsError,
  loadGraph,
  RegistryClient,
} from '../../src/registry/index.js';
import { basicAuth } from '../helpers/password-registry.js';
import { listTags, manifestStatus, pushImage, tagManifest } from '../helpers/push.js';
import { type RunningRegistry, startRegistry } from '../helpers/registry-server.js';
import { pullsCompletely } from '../helpers/skopeo.js';
import { startTokenServer, type TokenServer } from '../helpers/token-server.js';

describe('Basic auth (htpasswd)', () => {
  let reg: RunningRegistry;
  const target = () => ({
    url: reg.url,
    headers: () => ({ authorization: basicAuth('alice', 's3cret-pw') }),
  });
  beforeAll(async () => {
    reg = await startRegistry({ auth: 'htpasswd', users: { alice: 's3cret-pw' } });
  });
  afterAll(async () => {
    await reg?.stop();
  });

  it('refuses anonymous and wrong credentials with an AuthError that holds no secret', async () => {
    await pushImage(target(), 'app', { tag: 'v1' });
    const anonymous = new RegistryClient({ url: reg.url });
    await expect(loadGraph(anonymous)).rejects.toThrow(AuthError);
    const wrong = new RegistryClient({
      url: reg.url,
      auth: { username: 'alice', password: 'wrong-pw' },
    });
    const error = await loadGraph(wrong, { repositories: ['app'] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthError);
    expect((error as AuthError).scope).toBe('repository:app:pull');
    expect(String((error as Error).message)).not.toMatch(/wrong-pw|s3cret/);
  });

  it('loads, plans and applies with credentials; the kept tag still pulls', async () => {
    const keep = await pushImage(target(), 'basic', { tag: 'keep', salt: 'k' });
    await tagManifest(target(), 'basic', 'alias', keep.digest);
    const drop = await pushImage(target(), 'basic', { tag: 'drop', salt: 'd' });
    const client = new RegistryClient({
      url: reg.url,
      auth: { username: 'alice', password: 's3cret-pw' },
    });
    const graph = await loadGraph(client);
    expect(graph.tags()).toEqual(
      expect.arrayContaining(['basic:keep', 'basic:alias', 'basic:drop']),
    );
    const plan = planCleanup(graph, (tag) => !tag.startsWith('basic:') || tag === 'basic:keep');
    const result = await applyPlan(client, plan, { graph });
    expect(result.totals).toMatchObject({ done: 2, failed: 0 });
    expect(await listTags(target(), 'basic')).toEqual(['keep']);
    expect(await manifestStatus(target(), 'basic', drop.digest)).toBe(404);
    await pullsCompletely(reg.host, 'basic', 'keep', 'alice:s3cret-pw');
  });

  it('takes credentials from Docker config.json: auths and a credential helper', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'regprune-docker-config-'));
    try {
      const auths = join(dir, 'auths.json');
      await writeFile(
        auths,
        JSON.stringify({
          auths: {
            [`http://${reg.host}/v1/`]: { auth: Buffer.from('alice:s3cret-pw').toString('base64') },
          },
        }),
      );
      expect(await credentialsFromDockerConfig(reg.host, { path: auths })).toEqual({
        username: 'alice',
        password: 's3cret-pw',
      });
      expect(
        await credentialsFromDockerConfig('other.example:5000', { path: auths }),
      ).toBeUndefined();

      const bin = join(dir, 'bin');
      await mkdir(bin);
      const helper = join(bin, 'docker-credential-regprunetest');
      await writeFile(
        helper,
        `#!/bin/sh\nread host\nif [ "$host" = "${reg.host}" ]; then echo '{"ServerURL":"'$host'","Username":"alice","Secret":"s3cret-pw"}'; else echo "credentials not found in native keychain"; exit 1; fi\n`,
      );
      await chmod(helper, 0o755);
      const helpers = join(dir, 'helpers.json');
      await writeFile(
        helpers,
        JSON.stringify({
          credHelpers: { [reg.host]: 'regprunetest' },
          credsStore: 'regprunetest',
          auths: { 'token.example': { identitytoken: 'refresh-me' } },
        }),
      );
      const env = { ...process.env, PATH: `${bin}:${process.env.PATH}` };
      const creds = await credentialsFromDockerConfig(reg.host, { path: helpers, env });
      expect(creds).toEqual({ username: 'alice', password: 's3cret-pw' });
      expect(await credentialsFromDockerConfig('token.example', { path: helpers, env })).toEqual({
        identityToken: 'refresh-me',
      });
      expect(
        await credentialsFromDockerConfig('nowhere.example', { path: helpers, env }),
      ).toBeUndefined();
      const client = new RegistryClient({ url: reg.url, auth: creds });
      await client.ping();
      expect(await client.listTags('basic')).toContain('keep');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('never sends credentials over plain HTTP to a non-loopback host', () => {
    expect(
      () =>
        new RegistryClient({
          url: 'http://registry.example.com',
          auth: { username: 'a', password: 'b' },
        }),
    ).toThrow(InsecureCredentialsError);
  });
});

describe('Bearer token auth', () => {
  let dir: string;
  let tokens: TokenServer;
  let reg: RunningRegistry;
  const pusher = () => ({
    url: reg.url,
    headers: (repo: string) => ({
      authorization: `Bearer ${tokens.mint('alice', [`repository:${repo}:pull,push`])}`,
    }),
  });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'regprune-token-'));
    tokens = await startTokenServer(dir, {
      alice: { password: 'alice-pw', actions: ['pull', 'push', 'delete'], catalog: true },
      reader: { password: 'reader-pw', actions: ['pull'], catalog: true },
    });
    reg = await startRegistry({
      auth: 'token',
      token: {
        realm: tokens.realm,
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

  it('a reader may load but not delete: AuthError names the refused delete scope, nothing changes', async () => {
    await pushImage(pusher(), 'ro', { tag: 'keep', salt: 'k' });
    await pushImage(pusher(), 'ro', { tag: 'drop', salt: 'd' });
    const client = new RegistryClient({
      url: reg.url,
      auth: { username: 'reader', password: 'reader-pw' },
    });
    const graph = await loadGraph(client);
    expect(graph.tags()).toEqual(expect.arrayContaining(['ro:drop', 'ro:keep']));
    const plan = planCleanup(graph, (tag) => tag !== 'ro:drop');
    const error = await applyPlan(client, plan, { graph }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AuthError);
    expect((error as AuthError).scope).toBe('repository:ro:delete');
    expect((error as Error).message).not.toMatch(/reader-pw/);
    expect(await listTags(pusher(), 'ro')).toEqual(['drop', 'keep']);
  });

  it('tokens per scope, upgraded pull → pull,push → delete; the kept tag still pulls', async () => {
    const keep = await pushImage(pusher(), 'rw', { tag: 'keep', salt: 'k' });
    await tagManifest(pusher(), 'rw', 'alias', keep.digest);
    const drop = await pushImage(pusher(), 'rw', { tag: 'drop', salt: 'd' });
    const client = new RegistryClient({
      url: reg.url,
      auth: { username: 'alice', password: 'alice-pw' },
    });
    tokens.requested.length = 0;
    const graph = await loadGraph(client, { repositories: ['rw'] });
    const plan = planCleanup(graph, ['rw:keep']);
    expect(plan.untag).toHaveLength(1);
    expect(plan.delete).toHaveLength(1);
    const result = await applyPlan(client, plan, { graph });
    expect(result.totals).toMatchObject({ done: 2, failed: 0 });
    expect(tokens.requested).toContain('repository:rw:pull');
    expect(tokens.requested).toContain('repository:rw:pull,push');
    expect(tokens.requested).toContain('repository:rw:delete');
    // One token per scope: cached, not fetched per request.
    expect(tokens.requested.filter((s) => s === 'repository:rw:pull')).toHaveLength(1);
    expect(await listTags(pusher(), 'rw')).toEqual(['keep']);
    expect(await manifestStatus(pusher(), 'rw', drop.digest)).toBe(404);
    await pullsCompletely(reg.host, 'rw', 'keep', 'alice:alice-pw');
  });
});
