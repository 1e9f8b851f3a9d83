/**
 * Property, on the FAKE GitHub Packages API over a REAL docker-registry: whatever the images
 * (single-platform and multi-arch, tagged and untagged), the kept tags and the versions GitHub
 * refuses to delete (public, over 5,000 downloads), an apply through the Packages API leaves every
 * kept tag pulling completely (skopeo) and every refused image in place and pulling, and deletes
 * everything else it planned.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planCleanup } from '../../src/index.js';
import { applyPlan, loadGraph, RegistryClient } from '../../src/registry/index.js';
import {
  type FakeGitHubPackages,
  startFakeGitHubPackages,
} from '../helpers/fake-github-packages.js';
import { type Pushed, type PushedImage, pushImage, pushIndex } from '../helpers/push.js';
import { pullsCompletely } from '../helpers/skopeo.js';

const TOKEN = 'ghp_property';
let fake: FakeGitHubPackages;
let run = 0;

beforeAll(async () => {
  fake = await startFakeGitHubPackages({
    tokens: { [TOKEN]: { login: 'me', scopes: ['read:packages', 'delete:packages'] } },
  });
});
afterAll(async () => {
  await fake?.stop();
});

/** One drawn image: multi-arch or not, tagged or not, kept or not, refused or not. */
const imageArb = fc.record({
  multi: fc.boolean(),
  tagged: fc.boolean(),
  kept: fc.boolean(),
  refused: fc.boolean(),
});

describe('GHCR apply property (fake Packages API over a real registry)', () => {
  it('kept tags and refused versions always pull; everything else planned is gone', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(imageArb, { minLength: 2, maxLength: 4 }), async (drawn) => {
        const repo = `my-org/prop${run++}`;
        fake.setPublic(repo);
        const reg = fake.registry;
        const tops: Array<{ top: Pushed; parts: Pushed[]; tag?: string }> = [];
        for (const [i, d] of drawn.entries()) {
          const tag = d.tagged || d.kept ? `t${i}` : undefined;
          if (d.multi) {
            const kids = [
              await pushImage(reg, repo, { salt: `${repo}-${i}-a`, layers: [`a${i}`] }),
              await pushImage(reg, repo, {
                salt: `${repo}-${i}-b`,
                layers: [`b${i}`],
                architecture: 'arm64',
              }),
            ];
            const top = await pushIndex(reg, repo, {
              ...(tag ? { tag } : {}),
              manifests: [
                { ...kids[0], architecture: 'amd64' } as PushedImage,
                { ...kids[1], architecture: 'arm64' } as PushedImage,
              ],
            });
            tops.push({ top, parts: kids, ...(tag ? { tag } : {}) });
          } else {
            const top = await pushImage(reg, repo, {
              ...(tag ? { tag } : {}),
              salt: `${repo}-${i}`,
              layers: [`s${i}`],
            });
            tops.push({ top, parts: [], ...(tag ? { tag } : {}) });
          }
          if (d.refused) fake.setDownloads(repo, (tops[i] as { top: Pushed }).top.digest, 5001);
        }
        const client = new RegistryClient({
          url: fake.url,
          auth: { username: 'me', password: TOKEN },
          platform: { kind: 'ghcr', apiUrl: fake.apiUrl },
        });
        const graph = await loadGraph(client, { repositories: [repo] });
        const keep = new Set(drawn.flatMap((d, i) => (d.kept ? [`${repo}:t${i}`] : [])));
        const plan = planCleanup(graph, (tag) => keep.has(tag));
        const result = await applyPlan(client, plan, { graph });
        expect(result.outcomes.filter((o) => o.status === 'failed')).toEqual([]);
        for (const tag of keep)
          await pullsCompletely(fake.host, repo, tag.split(':')[1] as string, `me:${TOKEN}`);
        const skipped = new Set(
          result.outcomes.filter((o) => o.status === 'skipped').map((o) => o.id),
        );
        for (const [i, d] of drawn.entries()) {
          const { top, parts, tag } = tops[i] as (typeof tops)[number];
          const id = `${repo}@${top.digest}`;
          const stays = !plan.delete.some((op) => op.image === id) || skipped.has(id);
          if (d.refused && plan.delete.some((op) => op.image === id))
            expect(skipped.has(id)).toBe(true);
          if (stays) {
            // What stays (kept, or refused by GitHub) still has every manifest it needs.
            for (const p of [top, ...parts])
              expect(await client.resolve(repo, p.digest)).toBe(p.digest);
            if (tag && skipped.has(id)) await pullsCompletely(fake.host, repo, tag, `me:${TOKEN}`);
          } else expect(await client.resolve(repo, top.digest)).toBeUndefined();
        }
      }),
      { numRuns: 6 },
    );
  }, 240_000);
});
