import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { BlobRole, ImageEdgeKind } from '../../src/index.js';
import { applyPlanToGraph, ImageGraph, planCleanup } from '../../src/index.js';

interface Spec {
  n: number;
  edges: Array<{ from: number; to: number; kind: ImageEdgeKind }>;
  blobs: Array<{ image: number; blob: number; role: BlobRole }>;
  tags: Array<{ name: string; image: number }>;
  keep: boolean[];
}

/**
 * Random graphs of every edge kind. Edges run from a higher to a lower index, so they are acyclic;
 * self-pairs are dropped when building.
 */
const specArb: fc.Arbitrary<Spec> = fc.integer({ min: 1, max: 24 }).chain((n) =>
  fc.record({
    n: fc.constant(n),
    edges: fc.array(
      fc
        .record({
          a: fc.nat(n - 1),
          b: fc.nat(n - 1),
          kind: fc.constantFrom<ImageEdgeKind>('parent', 'child', 'referrer'),
        })
        .map(({ a, b, kind }) => ({ from: Math.max(a, b), to: Math.min(a, b), kind })),
      { maxLength: n * 2 },
    ),
    blobs: fc.array(
      fc.record({
        image: fc.nat(n - 1),
        blob: fc.nat(12),
        role: fc.constantFrom<BlobRole>('config', 'layer'),
      }),
      { maxLength: n * 3 },
    ),
    tags: fc.uniqueArray(
      fc.record({ name: fc.stringMatching(/^[a-z]{1,4}$/), image: fc.nat(n - 1) }),
      {
        selector: (t) => t.name,
        maxLength: n + 3,
      },
    ),
    keep: fc.array(fc.boolean(), { minLength: n + 3, maxLength: n + 3 }),
  }),
);

const id = (i: number) => `img${String(i).padStart(2, '0')}`;

/** Builds the graph, skipping a second edge between the same pair (the graph rejects those). */
function build(spec: Spec, order: 'forward' | 'reverse' = 'forward'): ImageGraph {
  const g = new ImageGraph();
  const seq = <T>(xs: T[]) => (order === 'forward' ? xs : [...xs].reverse());
  for (const i of seq([...Array(spec.n).keys()])) g.addImage(id(i));
  const seen = new Set<string>();
  const edges = spec.edges.filter((e) => {
    const key = `${e.from}>${e.to}`;
    if (e.from === e.to || seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  for (const e of seq(edges)) {
    if (e.kind === 'parent') g.addParent(id(e.from), id(e.to));
    else if (e.kind === 'child') g.addChild(id(e.from), id(e.to));
    else g.addReferrer(id(e.from), id(e.to));
  }
  for (const b of seq(spec.blobs))
    g.addBlob(id(b.image), `sha256:${b.blob}`, { role: b.role, size: b.blob * 10 });
  for (const t of seq(spec.tags)) g.setTag(t.name, id(t.image));
  return g;
}

/** An independent oracle: the kept set by naive fixpoint iteration over the edge list. */
function naiveKept(g: ImageGraph, keepTags: string[]): Set<string> {
  const kept = new Set(keepTags.map((t) => g.tagTarget(t) as string));
  const edges = g
    .images()
    .flatMap((from) =>
      (['parent', 'child', 'referrer'] as const).flatMap((kind) =>
        g.targetsOf(from, kind).map((to) => ({ from, to, kind })),
      ),
    );
  let changed = true;
  while (changed) {
    changed = false;
    for (const e of edges) {
      if (kept.has(e.from) && !kept.has(e.to)) {
        kept.add(e.to);
        changed = true;
      }
      if (e.kind === 'referrer' && kept.has(e.to) && !kept.has(e.from)) {
        kept.add(e.from);
        changed = true;
      }
    }
  }
  return kept;
}

function keptTagsOf(spec: Spec): string[] {
  return spec.tags.filter((_, i) => spec.keep[i]).map((t) => t.name);
}

const runs = { numRuns: 300 };

describe('plan properties over random graphs of every edge kind', () => {
  it('deletes exactly what no kept tag reaches; nothing reached is deleted', () => {
    fc.assert(
      fc.property(specArb, (spec) => {
        const g = build(spec);
        const keep = keptTagsOf(spec);
        const kept = naiveKept(g, keep);
        const plan = planCleanup(g, keep);
        const deleted = plan.delete.map((d) => d.image).sort();
        expect(deleted).toEqual(g.images().filter((i) => !kept.has(i)));
        expect(plan.keep.map((k) => k.image)).toEqual(g.images().filter((i) => kept.has(i)));
        for (const t of keep) expect(deleted).not.toContain(g.tagTarget(t));
      }),
      runs,
    );
  });

  it('the delete order and waves respect every edge', () => {
    fc.assert(
      fc.property(specArb, (spec) => {
        const g = build(spec);
        const plan = planCleanup(g, keptTagsOf(spec));
        const pos = new Map(plan.delete.map((d, i) => [d.image, i]));
        const wave = new Map(plan.delete.map((d) => [d.image, d.wave]));
        for (const from of g.images())
          for (const kind of ['parent', 'child', 'referrer'] as const)
            for (const to of g.targetsOf(from, kind)) {
              if (!pos.has(to)) continue;
              expect(pos.has(from), `${from} points at deleted ${to} but stays`).toBe(true);
              expect(pos.get(from)).toBeLessThan(pos.get(to) as number);
              expect(wave.get(from)).toBeLessThan(wave.get(to) as number);
            }
      }),
      runs,
    );
  });

  it('after applying, every kept tag and its closure are intact, and a second plan is empty', () => {
    fc.assert(
      fc.property(specArb, (spec) => {
        const g = build(spec);
        const keep = keptTagsOf(spec);
        const plan = planCleanup(g, keep);
        const after = applyPlanToGraph(g, plan);
        expect(after.tags()).toEqual([...keep].sort());
        for (const t of keep) expect(after.tagTarget(t)).toBe(g.tagTarget(t));
        for (const img of naiveKept(g, keep)) {
          expect(after.hasImage(img)).toBe(true);
          for (const kind of ['parent', 'child', 'referrer'] as const)
            expect(after.targetsOf(img, kind)).toEqual(g.targetsOf(img, kind));
          expect(after.blobsOf(img)).toEqual(g.blobsOf(img));
        }
        // the blobs only deleted images needed leave the graph with them
        const freed = new Set(plan.blobs.map((b) => b.id));
        expect(after.blobs()).toEqual(g.blobs().filter((b) => !freed.has(b)));
        const again = planCleanup(after, keep);
        expect(again.delete).toEqual([]);
        expect(again.untag).toEqual([]);
        expect(again.blobs).toEqual([]);
      }),
      runs,
    );
  });

  it('reclaimable blobs are those only deleted images need', () => {
    fc.assert(
      fc.property(specArb, (spec) => {
        const g = build(spec);
        const plan = planCleanup(g, keptTagsOf(spec));
        const deleted = new Set(plan.delete.map((d) => d.image));
        const needed = new Set(
          g
            .images()
            .filter((i) => !deleted.has(i))
            .flatMap((i) => g.blobsOf(i).map((b) => b.id)),
        );
        const freed = [...new Set([...deleted].flatMap((i) => g.blobsOf(i).map((b) => b.id)))]
          .filter((b) => !needed.has(b))
          .sort();
        expect(plan.blobs.map((b) => b.id)).toEqual(freed);
        expect(plan.reclaimableBytes).toBe(freed.reduce((s, b) => s + Number(b.slice(7)) * 10, 0));
      }),
      runs,
    );
  });

  it('the plan is the same whatever order images, edges, blobs and tags were added in', () => {
    fc.assert(
      fc.property(specArb, (spec) => {
        const keep = keptTagsOf(spec);
        expect(JSON.stringify(planCleanup(build(spec, 'reverse'), keep))).toBe(
          JSON.stringify(planCleanup(build(spec), keep)),
        );
      }),
      runs,
    );
  });

  it('sections read after the graph changed still describe the graph as it was planned', () => {
    const mutation = fc.record({
      drop: fc.nat(23),
      relabel: fc.nat(23),
      newTagOn: fc.nat(23),
      blob: fc.nat(12),
    });
    fc.assert(
      fc.property(specArb, mutation, (spec, m) => {
        const keep = keptTagsOf(spec);
        const g = build(spec);
        const expected = JSON.stringify(planCleanup(build(spec), keep));
        const plan = planCleanup(g, keep); // no section read yet
        // change every part a section is built from: images, tags, edges, blob sizes, info
        g.addImage('late', { mediaType: 'application/vnd.oci.image.manifest.v1+json' });
        const target = id(m.newTagOn % spec.n);
        g.setTag('late-tag', target);
        for (const t of spec.tags.slice(0, 2)) g.setTag(t.name, 'late');
        g.addParent('late', target);
        g.addBlob(target, `sha256:${m.blob}`, { role: 'layer', size: 1 });
        g.addImage(id(m.relabel % spec.n), { mediaType: 'changed' });
        g.removeImage(id(m.drop % spec.n));
        expect(JSON.stringify(plan)).toBe(expected);
      }),
      runs,
    );
  });
});
