/**
 * A registry that dies during an apply (Debian's real docker-registry, killed with SIGKILL after a
 * few deletes; reached directly, or through a gateway that then answers 502) ends the run after a
 * few failures: the rest is "not attempted", not retried
 * operation by operation for minutes, and every planned operation still has an outcome.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planCleanup } from '../../src/index.js';
import { applyPlan } from '../../src/registry/apply-plan.js';
import { RegistryClient } from '../../src/registry/client.js';
import { loadGraph } from '../../src/registry/load-graph.js';
import { type FaultProxy, startFaultProxy } from '../helpers/fault-proxy.js';
import { pushImage, pushIndex } from '../helpers/push.js';
import { type RunningRegistry, startRegistry } from '../helpers/registry-server.js';

const REPOS = ['a/app', 'b/app', 'c/app', 'd/app'];
// Many more DELETEs per repository than are in flight at once (3), so that some are never sent.
const PER_REPO = 20;

async function filled(): Promise<RunningRegistry> {
  const reg = await startRegistry();
  await Promise.all(
    REPOS.map(async (repo) => {
      await pushImage(reg, repo, { tag: 'keep' });
      for (let i = 0; i < PER_REPO; i++) await pushImage(reg, repo, { tag: `old-${i}` });
    }),
  );
  return reg;
}

let direct: RunningRegistry;
let behind: RunningRegistry;
let gateway: FaultProxy;
beforeAll(async () => {
  [direct, behind] = await Promise.all([filled(), filled()]);
  gateway = await startFaultProxy(behind.url);
});
afterAll(async () => {
  await Promise.all(
    [direct?.stop(), behind?.stop(), gateway?.stop()].map((p) => p?.catch(() => {})),
  );
});

describe('a registry that dies mid-apply', () => {
  it.each([
    {
      name: 'refused connections',
      via: () => direct.url,
      reg: () => direct,
      cause: 'ECONNREFUSED',
    },
    {
      name: 'behind a gateway (a proxy on 127.0.0.1 in front of the real registry) answering 502',
      via: () => gateway.url,
      reg: () => behind,
      cause: 'HTTP 502',
    },
  ])(
    'stops after a few failures ($name); the rest is not attempted, with the cause',
    async ({ via, reg, cause }) => {
      const client = new RegistryClient({ url: via(), retry: { limit: 2, baseDelay: 100 } });
      const graph = await loadGraph(client, { repositories: REPOS });
      const plan = planCleanup(graph, (tag) => tag.endsWith(':keep'));
      expect(plan.delete).toHaveLength(REPOS.length * PER_REPO);
      let done = 0;
      let killed: Promise<void> | undefined;
      const result = await applyPlan(client, plan, {
        graph,
        onProgress: ({ outcome }) => {
          if (outcome.status === 'done' && ++done === 5) killed = reg().stop({ signal: 'SIGKILL' });
        },
      });
      await killed;
      // Every planned deletion has exactly one outcome.
      expect(result.outcomes.map((o) => o.id).sort()).toEqual(
        plan.delete.map((o) => o.image).sort(),
      );
      const by = (status: string) => result.outcomes.filter((o) => o.status === status);
      expect(by('done').length).toBeGreaterThanOrEqual(5);
      const notTried = by('skipped').filter((o) => o.reason?.startsWith('not attempted:'));
      expect(notTried.length).toBeGreaterThan(0);
      expect(notTried[0]?.reason).toBe(
        `not attempted: the registry stopped answering (${cause}) — 3 requests in a row failed after their retries`,
      );
      // Failed: only DELETEs that were in flight when it died (at most (concurrency - 1) / 2 of the
      // client's per repository), not every remaining operation. One that was still waiting for its
      // tag list is not attempted: its DELETE was never sent.
      const failed = by('failed');
      expect(failed.length).toBeLessThanOrEqual(
        REPOS.length * Math.floor((client.concurrency - 1) / 2),
      );
      for (const outcome of failed) expect(outcome.reason).toMatch(/^DELETE http:/);
      expect(by('done').length + failed.length + notTried.length).toBe(REPOS.length * PER_REPO);
      expect(result.stopped).toBe(true);
      expect(result.notes.join('\n')).toMatch(
        /operations were not attempted\. Run the same apply again/,
      );
    },
  );
});

describe('a healthy registry whose one tag list fails (503 on every attempt, injected into the client on top of the real registry)', () => {
  let reg: RunningRegistry;
  beforeAll(async () => {
    reg = await startRegistry();
  });
  afterAll(async () => {
    await reg?.stop().catch(() => {});
  });

  it('does not stop the run: one failed request counts once, however many DELETEs waited on it', async () => {
    const repo = 'flaky/app';
    await pushImage(reg, repo, { tag: 'keep' });
    for (let i = 0; i < 2; i++) await pushImage(reg, repo, { tag: `old-${i}` });
    const children = [
      await pushImage(reg, repo, { salt: 'amd64' }),
      await pushImage(reg, repo, { salt: 'arm64', architecture: 'arm64' }),
    ];
    await pushIndex(reg, repo, { tag: 'multi', manifests: children });
    const load = new RegistryClient({ url: reg.url });
    const graph = await loadGraph(load, { repositories: [repo] });
    const plan = planCleanup(graph, [`${repo}:keep`]);
    // The index and the two old images in the first wave, the index's children in the second.
    expect(plan.delete).toHaveLength(5);
    // Once the first wave's three DELETEs were answered, the next tag list (which all three
    // outcomes wait on) answers 503 to each of its three attempts.
    let deleted = 0;
    const injected: string[] = [];
    const fetchFn = (async (input: string | URL | Request, init?: RequestInit) => {
      const request = new Request(input, init);
      const path = new URL(request.url).pathname;
      if (
        request.method === 'GET' &&
        path.endsWith('/tags/list') &&
        deleted >= 3 &&
        injected.length < 3
      ) {
        injected.push(path);
        return new Response('{"errors":[{"code":"UNAVAILABLE","message":"try later"}]}', {
          status: 503,
          headers: { 'content-type': 'application/json' },
        });
      }
      const response = await fetch(request);
      if (request.method === 'DELETE' && response.status === 202) deleted++;
      return response;
    }) as typeof fetch;
    const client = new RegistryClient({
      url: reg.url,
      fetch: fetchFn,
      retry: { limit: 2, baseDelay: 10 },
    });
    const result = await applyPlan(client, plan, { graph });
    expect(injected).toHaveLength(3);
    // Usually all three outcomes waited on it (a DELETE processed after the list was sent waits
    // for the next one); the count itself is unit-tested in units.test.ts.
    const checkFailed = result.outcomes.filter((o) => /could not be checked/.test(o.reason ?? ''));
    expect(checkFailed.length).toBeGreaterThanOrEqual(1);
    expect(result.stopped ?? false).toBe(false);
    expect(result.outcomes.filter((o) => o.reason?.startsWith('not attempted'))).toEqual([]);
    expect(result.outcomes.map((o) => o.status)).toEqual(Array(5).fill('done'));
  });
});
