/**
 * Why an image is deleted, told apart from the graph and the plan: an expired untagged image, a
 * platform manifest of a deleted index, a referrer (signature, SBOM) of a deleted image, a parent
 * only deleted images needed, or a tagged image whose tags no rule kept.
 */
import { describe, expect, it } from 'vitest';
import {
  deletionReasons,
  explain,
  ImageGraph,
  planCleanup,
  planMarkdown,
  planTable,
} from '../../src/index.js';

const SIG = 'application/vnd.dev.cosign.artifact.sig.v1+json';
const SBOM = 'application/spdx+json';

/**
 * `keep` on image k; an old multi-arch build `old` (index idx with children amd, arm) signed by
 * `sig`; a build `b` on base `base` (untagged); an untagged leftover `loose`; an old tagged `t`
 * with an SBOM `sbom`.
 */
function graph(): ImageGraph {
  const g = new ImageGraph();
  g.addImage('k', { created: '2024-05-01T00:00:00Z' });
  g.addImage('idx', { created: '2024-01-01T00:00:00Z' });
  g.addImage('amd').addImage('arm');
  g.addChild('idx', 'amd').addChild('idx', 'arm');
  g.addImage('sig', { artifactType: SIG }).addReferrer('sig', 'idx');
  g.addImage('base', { created: '2023-01-01T00:00:00Z' });
  g.addImage('b', { created: '2024-01-02T00:00:00Z' }).addParent('b', 'base');
  g.addImage('loose', { created: '2024-01-03T00:00:00Z' });
  g.addImage('t', { created: '2024-01-04T00:00:00Z' });
  g.addImage('sbom', { artifactType: SBOM }).addReferrer('sbom', 't');
  g.setTag('keep', 'k').setTag('old', 'idx').setTag('build', 'b').setTag('t-1', 't');
  return g;
}

const NOW = { now: '2024-06-01T00:00:00Z' };
const POLICY = { rules: [{ keepTags: ['keep'] }], untagged: { keepYoungerThan: '30d' } };

describe('deletion reasons', () => {
  it('says which case each deleted image is', () => {
    const g = graph();
    const plan = planCleanup(g, POLICY, NOW);
    const reasons = deletionReasons(plan, g);
    expect(Object.fromEntries([...reasons].map(([id, r]) => [id, r.kind]))).toEqual({
      idx: 'tagged',
      amd: 'child',
      arm: 'child',
      sig: 'referrer',
      b: 'tagged',
      base: 'parent',
      loose: 'untagged',
      t: 'tagged',
      sbom: 'referrer',
    });
    expect(reasons.get('amd')).toMatchObject({ kind: 'child', of: ['idx'] });
    expect(reasons.get('sig')).toMatchObject({
      kind: 'referrer',
      of: ['idx'],
      artifact: 'signature',
    });
    expect(reasons.get('base')).toMatchObject({ kind: 'parent', of: ['b'] });
  });

  it('explain with the graph says which case it is, not only "no kept tag reaches it"', () => {
    const g = graph();
    const plan = planCleanup(g, POLICY, NOW);
    expect(explain(plan, 'amd', g)).toBe(
      'deleted: a platform manifest of index idx, which is deleted too; no kept tag reaches it',
    );
    expect(explain(plan, 'sig', g)).toBe(
      'deleted: a referrer (signature) of idx, which is deleted too; referrers go with their subject',
    );
    expect(explain(plan, 'sbom', g)).toBe(
      'deleted: a referrer (SBOM) of t, which is deleted too; referrers go with their subject',
    );
    expect(explain(plan, 'loose', g)).toBe(
      "deleted: an expired untagged image (created 2024-01-03T00:00:00Z): no tag points at it, no kept tag reaches it, and the policy's untagged rules (keepYoungerThan, keepNewest) do not keep it",
    );
    expect(explain(plan, 'base', g)).toBe(
      'deleted: an untagged parent that only deleted images (b) were built on; no kept tag reaches it',
    );
    expect(explain(plan, 'idx', g)).toBe(
      'deleted: no kept tag reaches it (its tags old go with it)',
    );
  });

  it('a keep-list plan calls an untagged image untagged, not expired', () => {
    const g = graph();
    const plan = planCleanup(g, ['keep']);
    expect(explain(plan, 'loose', g)).toBe(
      'deleted: an untagged image: no tag points at it and no kept tag reaches it',
    );
  });

  it('the table and the Markdown give each deletion its short reason', () => {
    const g = graph();
    const plan = planCleanup(g, POLICY, NOW);
    const table = planTable(plan, { target: 't', basis: 'b' }, g);
    const del = table.slice(table.indexOf('Delete ('), table.indexOf('Kept images'));
    const row = (id: string) => del.split('\n').find((l) => l.trim().split(/\s+/)[1] === id) ?? '';
    expect(row('amd')).toMatch(/child of deleted index idx$/);
    expect(row('sig')).toMatch(/referrer of deleted idx$/);
    expect(row('loose')).toMatch(/untagged, expired$/);
    expect(row('base')).toMatch(/parent of deleted b$/);
    expect(row('t')).toMatch(/tags not kept$/);
    const md = planMarkdown(plan, { target: 't', basis: 'b' }, g);
    expect(md).toContain('| `amd` | image | — | child of deleted index `idx` |');
  });
});
