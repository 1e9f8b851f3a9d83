import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  applyPlanToGraph,
  explain,
  ImageGraph,
  orphanedImages,
  PlanMismatchError,
  planCleanup,
  recheckPlan,
  resolveKeepTags,
  UnknownTagError,
} from '../../src/index.js';

/**
 * A registry-like graph: a multi-arch index with two platform manifests (one of them a nested
 * index), a signature of an SBOM of the index, layers shared between images.
 */
function multiArch(): ImageGraph {
  const g = new ImageGraph();
  for (const id of ['idx', 'amd64', 'armIdx', 'armv7', 'armv8', 'sbom', 'sig', 'old', 'oldSig'])
    g.addImage(id);
  g.addChild('idx', 'amd64').addChild('idx', 'armIdx');
  g.addChild('armIdx', 'armv7').addChild('armIdx', 'armv8');
  g.addReferrer('sbom', 'idx').addReferrer('sig', 'sbom');
  g.addReferrer('oldSig', 'old');
  g.addBlob('amd64', 'sha256:base', { role: 'layer', size: 100 });
  g.addBlob('old', 'sha256:base', { role: 'layer', size: 100 });
  g.addBlob('old', 'sha256:oldlayer', { role: 'layer', size: 40 });
  g.addBlob('old', 'sha256:oldcfg', { role: 'config', size: 2 });
  g.addBlob('oldSig', 'sha256:sigblob', { role: 'layer', size: 1 });
  g.addBlob('armv7', 'sha256:armlayer', { role: 'layer' });
  g.setTag('latest', 'idx').setTag('v1', 'old').setTag('v1.0', 'old');
  return g;
}

describe('planCleanup on registry-shaped graphs', () => {
  it('a kept index keeps its children (nested too) and its referrer chain', () => {
    const plan = planCleanup(multiArch(), ['latest']);
    expect(plan.keep.map((k) => k.image)).toEqual([
      'amd64',
      'armIdx',
      'armv7',
      'armv8',
      'idx',
      'sbom',
      'sig',
    ]);
    expect(explain(plan, 'armv8')).toBe('kept: latest → idx → armIdx (child) → armv8 (child)');
    expect(explain(plan, 'sig')).toBe('kept: latest → idx → sbom (referrer) → sig (referrer)');
  });

  it('deletes referrers before their subject and both tags of a digest go with it', () => {
    const plan = planCleanup(multiArch(), ['latest']);
    expect(plan.delete).toEqual([
      { image: 'oldSig', tags: [], wave: 0 },
      { image: 'old', tags: ['v1', 'v1.0'], wave: 1 },
    ]);
    expect(plan.summary).toMatchObject({ deletedImages: 2, deletedTags: 2, untaggedTags: 0 });
  });

  it('counts only blobs that no kept image shares', () => {
    const plan = planCleanup(multiArch(), ['latest']);
    expect(plan.blobs).toEqual([
      { id: 'sha256:oldcfg', size: 2 },
      { id: 'sha256:oldlayer', size: 40 },
      { id: 'sha256:sigblob', size: 1 },
    ]);
    expect(plan.reclaimableBytes).toBe(43);
  });

  it('an orphaned index is deleted before its children, nested index before its own children', () => {
    const g = multiArch();
    g.setTag('latest', 'old');
    const plan = planCleanup(g, ['latest']);
    const order = plan.delete.map((d) => d.image);
    expect(order.indexOf('sig')).toBeLessThan(order.indexOf('sbom'));
    expect(order.indexOf('sbom')).toBeLessThan(order.indexOf('idx'));
    expect(order.indexOf('idx')).toBeLessThan(order.indexOf('armIdx'));
    expect(order.indexOf('armIdx')).toBeLessThan(order.indexOf('armv7'));
    expect(plan.delete.map((d) => [d.image, d.wave])).toEqual([
      ['sig', 0],
      ['sbom', 1],
      ['idx', 2],
      ['amd64', 3],
      ['armIdx', 3],
      ['armv7', 4],
      ['armv8', 4],
    ]);
    expect(plan.untag).toEqual([
      { tag: 'v1', image: 'old' },
      { tag: 'v1.0', image: 'old' },
    ]);
    expect(plan.blobs.map((b) => b.id)).toEqual(['sha256:armlayer']);
    expect(plan.reclaimableBytes).toBe(0); // the only freed blob has an unknown size
  });

  it('a kept referrer keeps its subject (they live and die together)', () => {
    const g = multiArch();
    g.setTag('sig-tag', 'oldSig');
    const plan = planCleanup(g, ['sig-tag']);
    expect(explain(plan, 'old')).toBe('kept: sig-tag → oldSig → old (subject)');
    expect(plan.delete.map((d) => d.image)).toContain('idx');
  });

  it('several tags on one digest: keeping one keeps the digest and untags the others', () => {
    const plan = planCleanup(multiArch(), ['latest', 'v1.0']);
    expect(plan.untag).toEqual([{ tag: 'v1', image: 'old' }]);
    expect(plan.delete).toEqual([]);
    expect(explain(plan, 'v1.0')).toBe('kept tag: v1.0 → old');
  });

  it('accepts a predicate, and throws on a kept tag that does not exist', () => {
    const g = multiArch();
    expect(orphanedImages(g, (t) => t.startsWith('v1'))).toEqual([
      'amd64',
      'armIdx',
      'armv7',
      'armv8',
      'idx',
      'sbom',
      'sig',
    ]);
    expect(() => planCleanup(g, ['latest', 'lates'])).toThrow(UnknownTagError);
    expect(() => orphanedImages(g, ['lates'])).toThrow(/unknown tag "lates"/);
  });

  it('resolveKeepTags gives the kept names of a list or a predicate, and throws on a typo', () => {
    const g = multiArch();
    expect([...resolveKeepTags(g, ['v1', 'latest', 'v1'])].sort()).toEqual(['latest', 'v1']);
    expect([...resolveKeepTags(g, (tag) => tag.startsWith('v1'))].sort()).toEqual(['v1', 'v1.0']);
    expect(() => resolveKeepTags(g, ['latest', 'lates'])).toThrow(UnknownTagError);
  });

  it('keeping nothing deletes everything, in an order that applies cleanly', () => {
    const g = multiArch();
    const plan = planCleanup(g, []);
    expect(plan.keep).toEqual([]);
    expect(applyPlanToGraph(g, plan).images()).toEqual([]);
  });

  it('the plan does not depend on insertion order', () => {
    const a = multiArch();
    const b = new ImageGraph();
    const json = a.toJSON();
    for (const img of [...json.images].reverse()) b.addImage(img.id, img.info);
    for (const [r, s] of [...json.referrers].reverse()) b.addReferrer(r, s);
    for (const [i, c] of [...json.children].reverse()) b.addChild(i, c);
    for (const img of [...json.images].reverse())
      for (const [blob, role] of img.blobs ?? [])
        b.addBlob(img.id, blob, { role, size: json.blobSizes[blob] });
    for (const [t, img] of Object.entries(json.tags).reverse()) b.setTag(t, img);
    for (const keep of [['latest'], ['v1'], []]) {
      expect(JSON.stringify(planCleanup(b, keep))).toBe(JSON.stringify(planCleanup(a, keep)));
    }
  });

  it('applyPlanToGraph refuses a stale plan', () => {
    const g = multiArch();
    const plan = planCleanup(g, ['latest']);
    const moved = g.clone();
    moved.setTag('new', 'old');
    expect(() => applyPlanToGraph(moved, plan)).toThrow(PlanMismatchError);
    expect(() => applyPlanToGraph(moved, plan)).toThrow(
      /tagged new, which the plan did not expect/,
    );
  });
});

describe('plan sections built on first read', () => {
  it('serialise, spread and clone like plain arrays, in the same field order', () => {
    const plan = planCleanup(multiArch(), ['latest']);
    const json = JSON.stringify(plan);
    expect(Object.keys(JSON.parse(json))).toEqual([
      'format',
      'keptTags',
      'untag',
      'delete',
      'keep',
      'blobs',
      'reclaimableBytes',
      'summary',
      'refused',
      'warnings',
      'tagDecisions',
    ]);
    expect(JSON.stringify({ ...plan })).toBe(json);
    expect(JSON.stringify(structuredClone(plan))).toBe(json);
    expect(plan.delete.map((op) => op.image)).toEqual(['oldSig', 'old']);
    expect(plan.keep).toBe(plan.keep); // built once, then the same array
  });

  it('can be replaced by assignment, and console.log shows values, not getters', () => {
    const plan = planCleanup(multiArch(), ['latest']);
    plan.delete = [];
    expect(plan.delete).toEqual([]);
    plan.keep.pop();
    expect(plan.keep).toHaveLength(plan.summary.keptImages - 1);
    const shown = inspect(plan, { depth: 1 });
    expect(shown).not.toContain('Getter');
    expect(shown).toContain("keptTags: [ 'latest' ]");
  });
});

describe('planning again after the graph changed', () => {
  it('sees edges and blob links added since the last plan (no stale cache)', () => {
    const g = multiArch();
    const before = planCleanup(g, ['latest']);
    expect(before.delete.map((op) => op.image)).toEqual(['oldSig', 'old']);
    expect(before.blobs.map((b) => b.id)).toContain('sha256:oldlayer');
    g.addChild('idx', 'old'); // the kept index now lists the old image
    g.addBlob('amd64', 'sha256:sigblob', { role: 'layer', size: 1 });
    const after = planCleanup(g, ['latest']);
    expect(after.delete).toEqual([]);
    expect(after.blobs).toEqual([]);
    g.removeImage('oldSig');
    g.addImage('stray').addBlob('stray', 'sha256:stray', { role: 'layer', size: 5 });
    const third = planCleanup(g, ['latest']);
    expect(third.delete.map((op) => op.image)).toEqual(['stray']);
    expect(third.blobs).toEqual([{ id: 'sha256:stray', size: 5 }]);
  });
});

describe('recheckPlan (stale-plan protection)', () => {
  it('skips a deletion that a tag pushed since the plan now reaches, through any edge kind', () => {
    const g = multiArch();
    g.setTag('latest', 'old');
    const plan = planCleanup(g, ['latest']);
    // Someone tags the old nested index again: it, its children and nothing else are saved.
    const tags: Array<[string, string]> = [
      ['latest', 'old'],
      ['again', 'armIdx'],
    ];
    const result = recheckPlan(g, plan, tags);
    expect(result.skip.map((s) => s.op.image)).toEqual(['armIdx', 'armv7', 'armv8']);
    expect(result.skip[1]?.reason).toBe('changed since plan: again → armIdx → armv7 (child)');
    expect(result.proceed.map((d) => d.image)).toEqual(['sig', 'sbom', 'idx', 'amd64']);
  });

  it('a tag on an image the plan never saw makes every deletion in scope unsafe', () => {
    const g = multiArch();
    const plan = planCleanup(g, ['latest']);
    const result = recheckPlan(g, plan, [['x', 'unknown-digest']], (id) => id === 'old');
    expect(result.skip.map((s) => s.op.image)).toEqual(['old']);
    expect(result.skip[0]?.reason).toMatch(/never saw/);
    expect(result.proceed.map((d) => d.image)).toEqual(['oldSig']);
  });
});

describe('what loaders found: opaque images and content warnings', () => {
  function loadedGraph(): ImageGraph {
    const g = new ImageGraph();
    g.addImage('app@sha256:1', {
      warnings: [{ code: 'INVALID_BASE_DIGEST', message: 'base.digest "latest" is not a digest' }],
    });
    g.addImage('app@sha256:2', { opaque: 'unknown media type application/x.odd' });
    g.addImage('app@sha256:3');
    g.addImage('app@sha256:4');
    g.addParent('app@sha256:2', 'app@sha256:3');
    g.setTag('app:odd', 'app@sha256:2');
    g.setTag('app:v1', 'app@sha256:1');
    return g;
  }

  it('an opaque image is always kept, with its reason, and what it points at with it; both are warnings', () => {
    for (const g of [loadedGraph(), ImageGraph.fromJSON(loadedGraph().toJSON())]) {
      const plan = planCleanup(g, []);
      expect(plan.delete.map((op) => op.image)).toEqual(['app@sha256:1', 'app@sha256:4']);
      expect(plan.untag).toEqual([{ tag: 'app:odd', image: 'app@sha256:2' }]);
      expect(plan.keep).toEqual([
        {
          image: 'app@sha256:2',
          tag: null,
          note: 'unknown media type application/x.odd',
          path: ['app@sha256:2'],
          edges: [],
        },
        {
          image: 'app@sha256:3',
          tag: null,
          note: 'unknown media type application/x.odd',
          path: ['app@sha256:2', 'app@sha256:3'],
          edges: ['parent'],
        },
      ]);
      expect(plan.warnings.map((w) => [w.code, w.id])).toEqual([
        ['INVALID_BASE_DIGEST', 'app@sha256:1'],
        ['OPAQUE_IMAGE', 'app@sha256:2'],
      ]);
      expect(plan.warnings[1]?.message).toMatch(/application\/x\.odd/);
      expect(orphanedImages(g, [])).toEqual(['app@sha256:1', 'app@sha256:4']);
    }
  });

  it('a kept tag stays the reason of an opaque image it reaches', () => {
    const plan = planCleanup(loadedGraph(), ['app:odd']);
    expect(plan.keep[0]).toMatchObject({ image: 'app@sha256:2', tag: 'app:odd' });
  });

  it('a policy plan keeps opaque images too and carries the warnings', () => {
    const plan = planCleanup(loadedGraph(), { rules: [{ keepTags: ['v1'] }] });
    expect(plan.delete.map((op) => op.image)).toEqual(['app@sha256:4']);
    expect(plan.warnings.map((w) => w.code)).toEqual(['INVALID_BASE_DIGEST', 'OPAQUE_IMAGE']);
  });
});
