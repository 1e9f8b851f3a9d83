/**
 * The pure half of applying a plan to a layout (src/layout/plan-changes.ts): every decision is
 * made from the scanned state alone, with no file system, so it is tested here without one.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ImageGraph, PlanMismatchError, planCleanup } from '../../src/index.js';
import { checkPlanFitsLayout, decide } from '../../src/layout/plan-changes.js';

const REF = 'org.opencontainers.image.ref.name';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const d = (c: string) => `sha256:${c.repeat(64)}`;

/** Base `a` with layer `l`; `b` built on `a` and tagged `v2`; `old` tagged `v1`, alone. */
function state() {
  const graph = new ImageGraph();
  graph.addImage(`@${d('a')}`, { mediaType: OCI_MANIFEST, size: 10 });
  graph.addImage(`@${d('b')}`, { mediaType: OCI_MANIFEST, size: 11 });
  graph.addImage(`@${d('c')}`, { mediaType: OCI_MANIFEST, size: 12 });
  graph.addBlob(`@${d('a')}`, d('1'), { size: 5, role: 'layer' });
  graph.addBlob(`@${d('c')}`, d('2'), { size: 6, role: 'layer' });
  graph.addParent(`@${d('b')}`, `@${d('a')}`);
  graph.setTag('base', `@${d('a')}`);
  graph.setTag('v2', `@${d('b')}`);
  graph.setTag('v1', `@${d('c')}`);
  const entry = (c: string, tag: string) => ({
    mediaType: OCI_MANIFEST,
    digest: d(c),
    size: 10,
    annotations: { [REF]: tag },
  });
  const index = {
    schemaVersion: 2,
    manifests: [entry('a', 'base'), entry('b', 'v2'), entry('c', 'v1')],
  };
  return { dir: '/nowhere', graph, index };
}

describe('plan-changes (pure)', () => {
  it('imports nothing of Node: no file system, no process', () => {
    const source = readFileSync(
      new URL('../../src/layout/plan-changes.ts', import.meta.url),
      'utf8',
    );
    expect(source).not.toMatch(/from 'node:/);
    expect(source).not.toMatch(/from 'p-limit'/);
  });

  it('keeps a base that loses its tag as an untagged entry, deletes the rest, frees only unneeded blobs', () => {
    const layout = state();
    const plan = planCleanup(layout.graph, ['v2']);
    const entries = [d('1'), d('2'), d('a'), d('b'), d('c'), d('f')].map((digest) => ({
      digest,
      regular: true,
    }));
    const decision = decide(layout, plan, entries);
    expect(decision.untag).toEqual([expect.objectContaining({ id: 'base', status: 'planned' })]);
    expect(decision.deletes).toEqual([
      expect.objectContaining({ id: `@${d('c')}`, status: 'planned' }),
    ]);
    expect(decision.index.manifests).toEqual([
      { mediaType: OCI_MANIFEST, digest: d('a'), size: 10 },
      { mediaType: OCI_MANIFEST, digest: d('b'), size: 10, annotations: { [REF]: 'v2' } },
    ]);
    // The deleted image's manifest and layer go with their verified sizes; `f` was garbage before.
    expect(decision.candidates.map((c) => [c.digest, c.knownSize, c.stray])).toEqual([
      [d('2'), 6, false],
      [d('c'), 12, false],
      [d('f'), undefined, true],
    ]);
  });

  it('skips a deletion a tag pushed since the plan now reaches (the re-check)', () => {
    const layout = state();
    const plan = planCleanup(layout.graph, ['v2']);
    layout.graph.setTag('pushed-since', `@${d('c')}`);
    const decision = decide(layout, plan, []);
    expect(decision.deletes).toEqual([
      expect.objectContaining({ id: `@${d('c')}`, status: 'skipped' }),
    ]);
    expect(decision.index.manifests.map((e) => e.digest)).toContain(d('c'));
  });

  it('refuses a plan made for a registry', () => {
    const layout = state();
    const plan = planCleanup(layout.graph, ['v2']);
    const foreign = { ...plan, keep: [{ ...plan.keep[0], image: `app@${d('a')}` }] } as typeof plan;
    expect(() => checkPlanFitsLayout(layout, foreign)).toThrow(PlanMismatchError);
  });
});
