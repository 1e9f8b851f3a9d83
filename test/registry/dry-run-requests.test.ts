/**
 * The dry run's request list, as `apply --dry-run` prints it: grouped per repository and step
 * (untags, each wave of deletions) with counts, so it stays short however many operations there
 * are, and every request shape the dry run reports for an operation is in it. Real docker-registry.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planCleanup, resultTable } from '../../src/index.js';
import { applyPlan, loadGraph, RegistryClient } from '../../src/registry/index.js';
import { pushImage, tagManifest } from '../helpers/push.js';
import { type RunningRegistry, startRegistry } from '../helpers/registry-server.js';

let reg: RunningRegistry;
beforeAll(async () => {
  reg = await startRegistry();
});
afterAll(async () => {
  await reg?.stop();
});

/** The lines of the "Requests it would send" section. */
function requestSection(text: string): string[] {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l.startsWith('Requests it would send'));
  expect(start, text).toBeGreaterThanOrEqual(0);
  const end = lines.findIndex((l, i) => i > start && l === '');
  return lines.slice(start, end < 0 ? undefined : end);
}

describe('dry-run request list', () => {
  it('24 operations: grouped per repository and wave with counts, far fewer lines than requests', async () => {
    const base = await pushImage(reg, 'dry/app', { salt: 'base', tag: 'base-1' });
    for (let i = 1; i <= 20; i++)
      await pushImage(reg, 'dry/app', { salt: `b${i}`, parent: base, tag: `main-${i}` });
    const keep = await pushImage(reg, 'dry/app', { salt: 'keep', parent: base, tag: 'keep' });
    for (const t of ['alias-1', 'alias-2', 'alias-3'])
      await tagManifest(reg, 'dry/app', t, keep.digest);
    const client = new RegistryClient({ url: reg.url });
    const graph = await loadGraph(client, { repositories: ['dry/app'] });
    const plan = planCleanup(graph, ['dry/app:keep']);
    const result = await applyPlan(client, plan, { dryRun: true, graph });
    expect(result.outcomes.length).toBe(24); // 20 deletes, 4 untags (base-1, alias-1..3)
    const all = result.outcomes.flatMap((o) => o.requests ?? []);
    const section = requestSection(resultTable(result));
    // The header says how many operations and requests it stands for.
    expect(section[0]).toContain(`${result.outcomes.length} operations`);
    expect(section[0]).toContain(`${all.length} requests`);
    expect(section.length).toBeLessThan(30);
    expect(section.join('\n')).toContain('dry/app');
    expect(section.join('\n')).toMatch(/untag ×4/);
    expect(section.join('\n')).toMatch(/delete, wave 0 ×20/);
    // Each request line of a group says how often it would be sent.
    const delGroup = section.slice(section.findIndex((l) => /delete, wave 0/.test(l)) + 1);
    expect(delGroup.some((l) => /×20 +DELETE \/v2\/dry\/app\/manifests\/<digest>/.test(l))).toBe(
      true,
    );
    expect(
      delGroup.some((l) =>
        /×20 +GET \/v2\/dry\/app\/tags\/list sent after its turn came, right before its DELETE \(at most 3 DELETEs/.test(
          l,
        ),
      ),
    ).toBe(true);
    // The probe is sent once per repository and says so.
    expect(section.join('\n')).toMatch(/once +DELETE \/v2\/dry\/app\/manifests\/sha256:0{12}/);
  });
});
