import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CleanupPlan, planCleanup } from '../../src/index.js';
import { applyPlan, loadGraph, RegistryClient } from '../../src/registry/index.js';
import {
  fallbackTag,
  getManifest,
  listTags,
  manifestStatus,
  pushImage,
  pushReferrer,
} from '../helpers/push.js';
import { type RunningRegistry, startRegistry } from '../helpers/registry-server.js';
import { pullsCompletely } from '../helpers/skopeo.js';

let reg: RunningRegistry;
let client: RegistryClient;

beforeAll(async () => {
  reg = await startRegistry();
  client = new RegistryClient({ url: reg.url });
});
afterAll(async () => {
  await reg?.stop();
});

const CACHE = 'application/vnd.buildkit.cache.v1+json';
const SBOM = 'application/spdx+json';

/** A kept image with a build-cache referrer and an SBOM, both listed in its fallback index. */
async function fixture(repo: string) {
  const image = await pushImage(reg, repo, { tag: 'keep', salt: repo });
  const cache = await pushReferrer(reg, repo, image, { artifactType: CACHE, content: 'cache' });
  const sbom = await pushReferrer(reg, repo, image, { artifactType: SBOM, content: 'sbom' });
  const graph = await loadGraph(client, { repositories: [repo] });
  const plan = planCleanup(graph, { rules: [{ keepTags: ['keep'] }], referrers: ['*cache*'] });
  return { image, cache, sbom, graph, plan };
}

describe("a policy's referrers list survives the apply-time re-check (real docker-registry 2.8)", () => {
  it('deletes the detached referrer while its subject stays; the SBOM and the kept tag stay', async () => {
    const repo = 'detach';
    const { image, cache, sbom, graph, plan } = await fixture(repo);
    expect(plan.delete).toEqual([
      expect.objectContaining({ image: `${repo}@${cache.digest}`, detachedReferrer: true }),
    ]);
    const result = await applyPlan(client, plan, { graph });
    expect(result.outcomes.filter((o) => o.action === 'delete')).toEqual([
      expect.objectContaining({ id: `${repo}@${cache.digest}`, status: 'done' }),
    ]);
    expect(result.totals.failed).toBe(0);
    expect(await manifestStatus(reg, repo, cache.digest)).toBe(404);
    expect(await manifestStatus(reg, repo, sbom.digest)).toBe(200);
    expect(await manifestStatus(reg, repo, image.digest)).toBe(200);
    // The fallback index now lists only the SBOM.
    const index = await getManifest(reg, repo, fallbackTag(image.digest));
    const entries = JSON.parse(new TextDecoder().decode(index?.bytes)).manifests as Array<{
      digest: string;
    }>;
    expect(entries.map((e) => e.digest)).toEqual([sbom.digest]);
    await pullsCompletely(reg.host, repo, 'keep');
    await pullsCompletely(reg.host, repo, fallbackTag(image.digest));
  });

  it('without the mark (e.g. a plan edited by hand) the subject still saves its referrer', async () => {
    const repo = 'nodetach';
    const { cache, graph, plan } = await fixture(repo);
    const unmarked: CleanupPlan = {
      ...plan,
      delete: plan.delete.map(({ detachedReferrer: _, ...op }) => op),
    };
    const result = await applyPlan(client, unmarked, { graph });
    expect(result.outcomes).toEqual([
      expect.objectContaining({ id: `${repo}@${cache.digest}`, status: 'skipped' }),
    ]);
    expect(result.outcomes[0]?.reason).toMatch(/changed since plan/);
    expect(await manifestStatus(reg, repo, cache.digest)).toBe(200);
  });

  it('a tag pushed onto the detached referrer after the plan still saves it', async () => {
    const repo = 'detachtagged';
    const { cache, graph, plan } = await fixture(repo);
    const found = await getManifest(reg, repo, cache.digest);
    const response = await fetch(`${reg.url}/v2/${repo}/manifests/pinned`, {
      method: 'PUT',
      headers: { 'content-type': found?.mediaType ?? '' },
      body: found?.bytes,
    });
    expect(response.status).toBe(201);
    const result = await applyPlan(client, plan, { graph });
    expect(result.outcomes).toEqual([
      expect.objectContaining({ id: `${repo}@${cache.digest}`, status: 'skipped' }),
    ]);
    expect(result.outcomes[0]?.reason).toMatch(/changed since plan: detachtagged:pinned/);
    expect(await listTags(reg, repo)).toContain('pinned');
    await pullsCompletely(reg.host, repo, 'pinned');
  });
});
