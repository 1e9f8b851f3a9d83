import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { planCleanup } from '../../src/index.js';
import { applyLayoutPlan, loadLayoutGraph } from '../../src/layout/index.js';
import {
  buildLayout,
  type ImageSpec,
  type IndexSpec,
  type LayoutSpec,
  listBlobs,
  reachableBlobs,
  refNames,
  SBOM_TYPE,
  SIGNATURE_TYPE,
} from '../helpers/layout-builder.js';
import { umociGc } from '../helpers/layout-tools.js';
import { useTempDir } from '../helpers/temp-dir.js';

const work = useTempDir('regprune-layout-prop-');

/** One node as drawn: every choice is a number that `toSpec` maps onto a valid choice. */
interface RawNode {
  kind: 'image' | 'index' | 'referrer';
  pick: number;
  picks: number[];
  layers: number[];
  withBase: boolean;
  tags: number;
}

const rawNode: fc.Arbitrary<RawNode> = fc.record({
  kind: fc.constantFrom<RawNode['kind']>('image', 'index', 'referrer'),
  pick: fc.nat(1000),
  picks: fc.array(fc.nat(1000), { minLength: 1, maxLength: 3 }),
  layers: fc.uniqueArray(fc.nat(5), { maxLength: 3 }),
  withBase: fc.boolean(),
  tags: fc.nat(2),
});

const caseArb = fc.record({
  nodes: fc.array(rawNode, { minLength: 1, maxLength: 9 }),
  keep: fc.array(fc.boolean(), { minLength: 20, maxLength: 20 }),
});

interface Case {
  spec: LayoutSpec;
  /** Name → the names it keeps when kept (children, base, subject, its referrers). */
  keeps: Map<string, string[]>;
  keepTags: string[];
}

/**
 * Maps drawn numbers onto a layout: node i may only name nodes before it (so the graph is acyclic);
 * a choice with no candidate falls back to a plain image. Layers come from a pool of six, so
 * images share blobs; referrers share the empty config. Every node no index lists gets an
 * index.json entry, tagged or not.
 */
function toSpec(nodes: RawNode[], keepMask: boolean[]): Case {
  const images: Record<string, ImageSpec | IndexSpec> = {};
  const kinds: Array<RawNode['kind']> = [];
  const keeps = new Map<string, string[]>();
  const name = (i: number) => `n${i}`;
  const link = (from: string, to: string) => keeps.get(from)?.push(to);
  nodes.forEach((raw, i) => {
    const before = kinds.map((k, j) => ({ k, j }));
    const manifests = before.filter((x) => x.k !== 'referrer').map((x) => x.j);
    const plain = before.filter((x) => x.k === 'image').map((x) => x.j);
    let kind = raw.kind;
    if (kind === 'index' && manifests.length === 0) kind = 'image';
    if (kind === 'referrer' && i === 0) kind = 'image';
    kinds.push(kind);
    keeps.set(name(i), []);
    if (kind === 'index') {
      const children = [
        ...new Set(raw.picks.map((p) => manifests[p % manifests.length] as number)),
      ];
      images[name(i)] = { kind: 'index', children: children.map(name) };
      for (const c of children) link(name(i), name(c));
    } else if (kind === 'referrer') {
      const subject = name(raw.pick % i);
      images[name(i)] = {
        subject,
        artifactType: raw.pick % 2 === 0 ? SBOM_TYPE : SIGNATURE_TYPE,
      };
      link(name(i), subject);
      link(subject, name(i));
    } else {
      const spec: ImageSpec = { layers: raw.layers.map((l) => `layer ${l}`) };
      if (raw.withBase && plain.length > 0) {
        spec.base = name(plain[raw.pick % plain.length] as number);
        link(name(i), spec.base);
      }
      images[name(i)] = spec;
    }
  });
  const listed = new Set(
    Object.values(images).flatMap((n) => (n.kind === 'index' ? n.children : [])),
  );
  const tags: Record<string, string> = {};
  const untagged: string[] = [];
  nodes.forEach((raw, i) => {
    for (let k = 0; k < raw.tags; k++) tags[`t${i}-${k}`] = name(i);
    if (raw.tags === 0 && !listed.has(name(i))) untagged.push(name(i));
  });
  const keepTags = Object.keys(tags).filter((_, i) => keepMask[i] === true);
  return { spec: { images, tags, untagged }, keeps, keepTags };
}

/** The model's kept set, computed from the spec alone: closure of the kept tags' images. */
function keptNames(c: Case): Set<string> {
  const kept = new Set<string>();
  const stack = c.keepTags.map((t) => c.spec.tags?.[t] as string);
  while (stack.length > 0) {
    const n = stack.pop() as string;
    if (kept.has(n)) continue;
    kept.add(n);
    stack.push(...(c.keeps.get(n) ?? []));
  }
  return kept;
}

describe('applyLayoutPlan properties', () => {
  it('on random layouts, exactly the kept images’ blobs remain, every kept tag stays complete, umoci gc finds nothing more', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(caseArb, async ({ nodes, keep }) => {
        const c = toSpec(nodes, keep);
        const b = await buildLayout(join(work(), `p${run++}`), c.spec);
        const plan = planCleanup(await loadLayoutGraph(b.dir), c.keepTags);
        await applyLayoutPlan(b.dir, plan);

        const kept = keptNames(c);
        const expected = [...new Set([...kept].flatMap((n) => b.own[n] as string[]))].sort();
        const blobs = await listBlobs(b.dir);
        expect(blobs).toEqual(expected);
        expect(await refNames(b.dir)).toEqual([...c.keepTags].sort());
        // Reachable from index.json the way umoci walks it (no `subject`), and complete.
        expect([...(await reachableBlobs(b.dir))].sort()).toEqual(blobs);
        for (const tag of c.keepTags) {
          const closure = await reachableBlobs(b.dir, [
            b.desc[c.spec.tags?.[tag] as string]?.digest as string,
          ]);
          for (const d of closure) expect(blobs).toContain(d);
        }
        await umociGc(b.dir);
        expect(await listBlobs(b.dir)).toEqual(blobs);
        // The result is a valid layout on which the same keep list changes nothing more.
        const again = planCleanup(await loadLayoutGraph(b.dir), c.keepTags);
        expect(again.delete).toEqual([]);
        expect(again.untag).toEqual([]);
        await rm(b.dir, { recursive: true, force: true });
      }),
      { numRuns: 30 },
    );
  });
});
