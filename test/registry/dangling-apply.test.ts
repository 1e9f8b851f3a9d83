/**
 * Dangling tags (listed by tags/list, manifest 404: what a registry crash during a DELETE leaves)
 * on Debian's real docker-registry: the plan lists those in its scope, apply removes them, and
 * one in a repository out of policy scope is left alone.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planCleanup } from '../../src/index.js';
import { applyPlan } from '../../src/registry/apply-plan.js';
import { RegistryClient } from '../../src/registry/client.js';
import { loadGraph } from '../../src/registry/load-graph.js';
import { listTags, pushImage } from '../helpers/push.js';
import { type RunningRegistry, startRegistry } from '../helpers/registry-server.js';
import { pullsCompletely } from '../helpers/skopeo.js';

let reg: RunningRegistry;

/** Pushes `repo:tag`, then removes its revision link the way a crash mid-DELETE leaves it. */
async function danglingTag(repo: string, tag: string): Promise<void> {
  const pushed = await pushImage(reg, repo, { tag, salt: `dangling ${tag}` });
  const hex = pushed.digest.slice('sha256:'.length);
  await rm(
    join(reg.dataDir, `docker/registry/v2/repositories/${repo}/_manifests/revisions/sha256/${hex}`),
    { recursive: true },
  );
}

beforeAll(async () => {
  reg = await startRegistry();
  await pushImage(reg, 'team/app', { tag: 'keep' });
  await pushImage(reg, 'team/app', { tag: 'old' });
  await danglingTag('team/app', 'broken');
  await pushImage(reg, 'other/x', { tag: 'v1' });
  await danglingTag('other/x', 'broken');
});
afterAll(async () => {
  await reg?.stop();
});

describe('dangling tags', () => {
  it('a keep-list plan lists every dangling tag; a policy only those in its scope', async () => {
    const client = new RegistryClient({ url: reg.url });
    const graph = await loadGraph(client);
    const keep = planCleanup(graph, ['team/app:keep', 'other/x:v1']);
    expect(keep.danglingTags).toEqual(['other/x:broken', 'team/app:broken']);
    const policy = planCleanup(graph, {
      rules: [{ repositories: ['team/**'], keepTags: ['keep'] }],
    });
    expect(policy.danglingTags).toEqual(['team/app:broken']);
    expect(policy.warnings.filter((w) => w.code === 'DANGLING_TAG').map((w) => w.id)).toEqual([
      'other/x:broken',
      'team/app:broken',
    ]);
  });

  it('apply removes those the plan lists (dry run first), and leaves the out-of-scope one', async () => {
    const client = new RegistryClient({ url: reg.url });
    const graph = await loadGraph(client);
    const plan = planCleanup(graph, { rules: [{ repositories: ['team/**'], keepTags: ['keep'] }] });
    const dry = await applyPlan(client, plan, { graph, dryRun: true });
    expect(dry.outcomes).toContainEqual(
      expect.objectContaining({ action: 'untag', id: 'team/app:broken', status: 'planned' }),
    );
    expect(await listTags(reg, 'team/app')).toContain('broken');

    const result = await applyPlan(client, plan, { graph });
    expect(result.outcomes).toContainEqual(
      expect.objectContaining({
        action: 'untag',
        id: 'team/app:broken',
        status: 'done',
        reason: 'dangling tag (listed, its manifest answered 404): removed',
      }),
    );
    expect(result.totals.failed + result.totals.skipped).toBe(0);
    expect(await listTags(reg, 'team/app')).toEqual(['keep']);
    expect(await listTags(reg, 'other/x')).toEqual(['broken', 'v1']);
    await pullsCompletely(reg.host, 'team/app', 'keep');
  });
});
