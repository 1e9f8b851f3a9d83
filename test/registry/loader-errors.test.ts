/**
 * A failure deep in the load (a malformed manifest two indexes below a tag) while other requests
 * are still out must reject `loadGraph` with the typed error — never leave a promise rejected
 * with nobody awaiting it, which Node answers by killing the process with a raw stack.
 * Real docker-registry 2.8 behind the fault proxy, which delays one sibling's GET.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planCleanup } from '../../src/index.js';
import {
  applyPlan,
  loadGraph,
  MalformedManifestError,
  RegistryClient,
} from '../../src/registry/index.js';
import { runCliProcess } from '../helpers/cli.js';
import { type FaultProxy, startFaultProxy } from '../helpers/fault-proxy.js';
import {
  OCI_MANIFEST,
  type Pushed,
  type PushedImage,
  pushImage,
  pushIndex,
  pushManifest,
} from '../helpers/push.js';
import { type RunningRegistry, startRegistry } from '../helpers/registry-server.js';

let reg: RunningRegistry;
let proxy: FaultProxy;
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);

beforeAll(async () => {
  reg = await startRegistry();
  proxy = await startFaultProxy(reg.url);
  process.on('unhandledRejection', onUnhandled);
});
afterAll(async () => {
  process.off('unhandledRejection', onUnhandled);
  await proxy?.stop();
  await reg?.stop();
});

/**
 * An image manifest docker-registry 2.8 stores (it ignores `subject`) but regprune refuses:
 * `subject` must be a descriptor.
 */
async function pushMalformed(repo: string, like: PushedImage): Promise<Pushed> {
  return pushManifest(
    reg,
    repo,
    undefined,
    {
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: {
        mediaType: like.config.mediaType,
        digest: like.config.digest,
        size: like.config.size,
      },
      layers: like.layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
      subject: 42,
    },
    OCI_MANIFEST,
  );
}

/** `top` (tagged) → [`mid` → [malformed], `slow`]: the malformed one fails while `slow` is out. */
async function pushTree(repo: string, tag: string): Promise<{ slow: Pushed }> {
  const like = await pushImage(reg, repo, { salt: `${repo}-like` });
  const bad = await pushMalformed(repo, like);
  const slow = await pushImage(reg, repo, { salt: `${repo}-slow` });
  const mid = await pushIndex(reg, repo, { manifests: [bad] });
  await pushIndex(reg, repo, { tag, manifests: [mid, slow] });
  return { slow };
}

async function settle(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

describe('a failure while other loads are out', () => {
  it('loadGraph rejects with MalformedManifestError; no rejection is left unhandled', async () => {
    const { slow } = await pushTree('tree', 'top');
    proxy.setRules([
      {
        method: 'GET',
        path: new RegExp(`/v2/tree/manifests/${slow.digest}$`),
        fault: { kind: 'delay', ms: 1_500 },
      },
    ]);
    const client = new RegistryClient({ url: proxy.url, retry: 0 });
    const error = await loadGraph(client, { repositories: ['tree'] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MalformedManifestError);
    expect((error as Error).message).toMatch(/subject must be an object/);
    // Past the delayed answer: whatever was still out has settled by now.
    await settle(2_000);
    expect(unhandled).toEqual([]);
  });

  it('the CLI in a child process: exit 1 with the typed message, no raw stack', async () => {
    const { slow } = await pushTree('cli', 'top');
    proxy.setRules([
      {
        method: 'GET',
        path: new RegExp(`/v2/cli/manifests/${slow.digest}$`),
        fault: { kind: 'delay', ms: 1_500 },
      },
    ]);
    const run = await runCliProcess(['plan', proxy.url, '--repo', 'cli', '--keep', 'cli:top']);
    expect(run.stderr).toMatch(/^error: .*subject must be an object/);
    expect(run.stderr).not.toMatch(/^\s+at /m);
    expect(run.code).toBe(1);
  });

  it('the apply-time re-check: the same failure fails the deletion (not sent), nothing unhandled', async () => {
    const drop = await pushImage(reg, 'recheck', { tag: 'drop', salt: 'drop' });
    await pushImage(reg, 'recheck', { tag: 'keep', salt: 'keep' });
    const direct = new RegistryClient({ url: reg.url, retry: 0 });
    const graph = await loadGraph(direct, { repositories: ['recheck'] });
    const plan = planCleanup(graph, ['recheck:keep']);
    expect(plan.delete.map((op) => op.image)).toEqual([`recheck@${drop.digest}`]);
    // After planning, someone tags a tree holding a malformed manifest; the re-check reads it
    // while the HEAD of another tag is slow.
    await pushTree('recheck', 'late');
    proxy.setRules([
      {
        method: 'HEAD',
        path: /\/v2\/recheck\/manifests\/keep$/,
        fault: { kind: 'delay', ms: 1_500 },
      },
    ]);
    const client = new RegistryClient({ url: proxy.url, retry: 0 });
    const result = await applyPlan(client, plan, { graph });
    // Not deleted: the re-check could not read the repository, so it cannot prove the delete safe.
    expect(result.totals).toMatchObject({ done: 0, failed: 1 });
    expect(result.outcomes[0]?.reason).toMatch(/not deleted: .*subject must be an object/);
    await settle(2_000);
    expect(unhandled).toEqual([]);
  });
});
