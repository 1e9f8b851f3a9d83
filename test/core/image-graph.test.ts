import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ImageGraph,
  InvalidEdgeError,
  InvalidGraphError,
  planCleanup,
  RegpruneError,
  UnknownImageError,
} from '../../src/index.js';

function chain(): ImageGraph {
  const g = new ImageGraph();
  for (const id of ['A', 'B', 'C']) g.addImage(id);
  g.addParent('B', 'A').addParent('C', 'B');
  return g;
}

describe('ImageGraph', () => {
  it('addImage is idempotent and merges info', () => {
    const g = new ImageGraph();
    g.addImage('A', { mediaType: 'm1' });
    g.addImage('A', { created: '2024-01-01T00:00:00Z' });
    g.addImage('A');
    expect(g.images()).toEqual(['A']);
    expect(g.size).toBe(1);
    expect(g.imageInfo('A')).toEqual({ mediaType: 'm1', created: '2024-01-01T00:00:00Z' });
  });

  it('setTag moves an existing tag, removeTag drops it, tagsOf is sorted', () => {
    const g = chain();
    g.setTag('v', 'A').setTag('z', 'C').setTag('a', 'C');
    expect(g.tagTarget('v')).toBe('A');
    g.setTag('v', 'C');
    expect(g.tagTarget('v')).toBe('C');
    expect(g.tagsOf('A')).toEqual([]);
    expect(g.tagsOf('C')).toEqual(['a', 'v', 'z']);
    expect(g.removeTag('v')).toBe(true);
    expect(g.removeTag('v')).toBe(false);
    expect(g.tags()).toEqual(['a', 'z']);
    expect(g.tagTarget('v')).toBeUndefined();
  });

  it('rejects edges and tags naming unknown images, with a typed error naming them', () => {
    const g = chain();
    expect(() => g.addParent('X', 'A')).toThrow(UnknownImageError);
    try {
      g.addChild('X', 'Y');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(RegpruneError);
      expect((e as UnknownImageError).ids).toEqual(['X', 'Y']);
      expect((e as Error).message).toContain('"X"');
      expect((e as UnknownImageError).code).toBe('UNKNOWN_IMAGE');
    }
    expect(() => g.setTag('t', 'nope')).toThrow(/unknown image "nope"/);
    expect(() => g.addBlob('nope', 'sha256:1', { role: 'layer', size: 1 })).toThrow(
      UnknownImageError,
    );
  });

  it('rejects self-edges and cycles, naming the ids', () => {
    const g = chain();
    expect(() => g.addReferrer('A', 'A')).toThrow(InvalidEdgeError);
    try {
      g.addParent('A', 'C');
      expect.unreachable();
    } catch (e) {
      expect((e as InvalidEdgeError).code).toBe('CYCLE');
      expect((e as InvalidEdgeError).ids).toEqual(['A', 'C', 'B', 'A']);
    }
    g.addImage('I');
    g.addChild('I', 'C');
    expect(() => g.addChild('A', 'I')).toThrow(/cycle: A → I → C → B → A/);
    // a rejected edge leaves the graph unchanged
    expect(g.targetsOf('A', 'child')).toEqual([]);
  });

  it('joins a pair by several edge kinds (an index listing X with X as its subject); the same edge twice is a no-op', () => {
    const g = new ImageGraph();
    for (const id of ['I', 'X', 'P']) g.addImage(id);
    g.addChild('I', 'X');
    g.addReferrer('I', 'X');
    g.addChild('I', 'X');
    g.addParent('X', 'P');
    expect(g.targetsOf('I', 'child')).toEqual(['X']);
    expect(g.targetsOf('I', 'referrer')).toEqual(['X']);
    expect(g.sourcesOf('X', 'child')).toEqual(['I']);
    expect(g.sourcesOf('X', 'referrer')).toEqual(['I']);
    const json = g.toJSON();
    expect(json.children).toEqual([['I', 'X']]);
    expect(json.referrers).toEqual([['I', 'X']]);
    expect(ImageGraph.fromJSON(JSON.parse(JSON.stringify(json))).toJSON()).toEqual(json);
    // reachability is the union: the tagged index keeps X (child) and X's parent; a tag on X
    // keeps the index (its referrer)
    g.setTag('i', 'I');
    expect(planCleanup(g, ['i']).delete).toEqual([]);
    g.removeTag('i');
    g.setTag('x', 'X');
    expect(planCleanup(g, ['x']).delete).toEqual([]);
    g.removeTag('x');
    expect(planCleanup(g, []).delete.map((op) => op.image)).toEqual(['I', 'X', 'P']);
    // the graphology copy holds one edge per pair, naming every kind
    const view = g.toGraphology();
    expect(view.getEdgeAttributes(view.edge('I', 'X') as string)).toEqual({
      kind: 'child',
      kinds: ['child', 'referrer'],
    });
    // removing the image removes every kind of edge
    g.removeImage('X');
    expect(g.targetsOf('I', 'child')).toEqual([]);
    expect(g.targetsOf('I', 'referrer')).toEqual([]);
  });

  it('a second kind of edge still may not close a cycle or join an image to itself', () => {
    const g = chain();
    expect(() => g.addChild('A', 'B')).toThrow(InvalidEdgeError);
    expect(() => g.addReferrer('A', 'A')).toThrow(/to itself/);
    expect(g.targetsOf('A', 'child')).toEqual([]);
  });

  it('rejects empty ids and a blob id equal to an image id', () => {
    const g = chain();
    expect(() => g.addImage('')).toThrow(InvalidGraphError);
    expect(() => g.addBlob('A', 'B', { role: 'layer', size: 1 })).toThrow(/already an image id/);
    expect(() => g.addBlob('A', 'sha256:x', { role: 'layer', size: -1 })).toThrow(
      /non-negative integer/,
    );
  });

  it('fromJSON rejects a blob id equal to an image id, with few or many blobs', () => {
    const json = (blobCount: number) => ({
      format: 'regprune.graph.v1',
      images: [
        { id: 'A', blobs: [['B', 'layer']] },
        {
          id: 'B',
          blobs: Array.from({ length: blobCount }, (_, i) => [`sha256:${i}`, 'layer']),
        },
        { id: 'C' },
        { id: 'D' },
      ],
    });
    for (const count of [0, 10]) {
      expect(() => ImageGraph.fromJSON(json(count))).toThrow(InvalidGraphError);
      expect(() => ImageGraph.fromJSON(json(count))).toThrow(/"B" is already an image id/);
    }
  });

  it('toJSON is independent of insertion order and round-trips through fromJSON', () => {
    const build = (order: string[]) => {
      const g = new ImageGraph();
      for (const id of order) g.addImage(id, { size: id.charCodeAt(0) });
      g.addParent('B', 'A').addChild('I', 'B').addChild('I', 'C').addReferrer('S', 'I');
      g.addBlob('B', 'sha256:l1', { role: 'layer', size: 10 });
      g.addBlob('C', 'sha256:l1', { role: 'layer', size: 10 });
      g.addBlob('C', 'sha256:c1', { role: 'config', size: 2 });
      g.setTag('latest', 'I').setTag('old', 'A');
      return g;
    };
    const a = build(['A', 'B', 'C', 'I', 'S']);
    const b = build(['S', 'I', 'C', 'B', 'A']);
    expect(JSON.stringify(a.toJSON())).toBe(JSON.stringify(b.toJSON()));
    const back = ImageGraph.fromJSON(JSON.parse(JSON.stringify(a.toJSON())));
    expect(back.toJSON()).toEqual(a.toJSON());
    expect(back.blobsOf('C')).toEqual([
      { id: 'sha256:c1', role: 'config', size: 2 },
      { id: 'sha256:l1', role: 'layer', size: 10 },
    ]);
    expect(back.sourcesOf('B', 'child')).toEqual(['I']);
  });

  it('fromJSON names the offending field and rejects cycles', () => {
    expect(() => ImageGraph.fromJSON({ format: 'nope' })).toThrow(/\$\.format/);
    const base = { format: 'regprune.graph.v1', parents: [], children: [], referrers: [] };
    expect(() => ImageGraph.fromJSON({ ...base, images: [{ id: 3 }] })).toThrow(
      /\$\.images\[0\]\.id: must be a non-empty string/,
    );
    expect(() => ImageGraph.fromJSON({ ...base, images: [{ id: 'A' }], tags: { t: 'B' } })).toThrow(
      UnknownImageError,
    );
    expect(() =>
      ImageGraph.fromJSON({
        ...base,
        images: [{ id: 'A' }, { id: 'B' }],
        parents: [
          ['A', 'B'],
          ['B', 'A'],
        ],
      }),
    ).toThrow(/cycle/);
  });

  it('toGraphology copies images, blobs, edges and tags into a graphology DirectedGraph', () => {
    const g = chain();
    g.addImage('C', { mediaType: 'm', annotations: { a: '1' } });
    g.addBlob('C', 'sha256:l', { role: 'layer', size: 5 });
    g.addBlob('B', 'sha256:c', { role: 'config' });
    g.setTag('latest', 'C').setTag('b', 'C');
    const view = g.toGraphology();
    expect(view.type).toBe('directed');
    expect(view.order).toBe(5);
    expect(view.size).toBe(4);
    expect(view.getNodeAttributes('C')).toEqual({
      kind: 'image',
      info: { mediaType: 'm', annotations: { a: '1' } },
      tags: ['b', 'latest'],
    });
    expect(view.getNodeAttributes('A')).toEqual({ kind: 'image' });
    expect(view.getNodeAttributes('sha256:l')).toEqual({ kind: 'blob', size: 5 });
    expect(view.getNodeAttributes('sha256:c')).toEqual({ kind: 'blob' });
    expect(view.getEdgeAttributes(view.edge('C', 'B') as string)).toEqual({ kind: 'parent' });
    expect(view.getEdgeAttributes(view.edge('B', 'A') as string)).toEqual({ kind: 'parent' });
    expect(view.getEdgeAttributes(view.edge('C', 'sha256:l') as string)).toEqual({
      kind: 'blob',
      role: 'layer',
    });
    expect(view.getEdgeAttributes(view.edge('B', 'sha256:c') as string)).toEqual({
      kind: 'blob',
      role: 'config',
    });
  });

  it('toGraphology is a copy: later changes on either side do not reach the other', () => {
    const g = chain();
    g.addImage('C', { annotations: { a: '1' } });
    g.addBlob('C', 'sha256:l', { role: 'layer', size: 5 });
    g.setTag('latest', 'C');
    const view = g.toGraphology();
    const before = JSON.stringify(view.export());
    g.addImage('D').addParent('D', 'C');
    g.removeTag('latest');
    g.removeImage('A');
    g.addImage('C', { mediaType: 'changed' });
    expect(JSON.stringify(view.export())).toBe(before);
    view.dropNode('C');
    (view.getNodeAttributes('B') as { kind: string }).kind = 'blob';
    expect(g.images()).toEqual(['B', 'C', 'D']);
    expect(g.imageInfo('C')).toEqual({ annotations: { a: '1' }, mediaType: 'changed' });
    const again = g.toGraphology();
    expect(again.hasNode('D') && again.hasNode('C') && !again.hasNode('A')).toBe(true);
    expect(again.getNodeAttribute('C', 'tags')).toBeUndefined();
    expect(again.getNodeAttribute('B', 'kind')).toBe('image');
    // a removed image takes the blobs only it needed with it
    g.removeImage('C');
    expect(g.toGraphology().hasNode('sha256:l')).toBe(false);
  });

  it('toGraphology gives nodes and edges in the same order whatever order the graph was built in', () => {
    const build = (order: string[]) => {
      const g = new ImageGraph();
      for (const id of order) g.addImage(id);
      const edges: Array<() => void> = [
        () => g.addParent('B', 'A'),
        () => g.addChild('I', 'B'),
        () => g.addChild('I', 'C'),
        () => g.addReferrer('I', 'C'),
        () => g.addReferrer('S', 'I'),
        () => g.addBlob('B', 'sha256:2', { role: 'layer', size: 1 }),
        () => g.addBlob('C', 'sha256:1', { role: 'layer', size: 1 }),
        () => g.addBlob('C', 'sha256:2', { role: 'layer', size: 1 }),
        () => g.setTag('x', 'I'),
        () => g.setTag('a', 'I'),
      ];
      for (const add of order[0] === 'A' ? edges : [...edges].reverse()) add();
      // edge keys are graphology's own, different in every graph
      const { nodes, edges: links } = g.toGraphology().export();
      return JSON.stringify({ nodes, edges: links.map(({ key: _, ...edge }) => edge) });
    };
    expect(build(['S', 'I', 'C', 'B', 'A'])).toBe(build(['A', 'B', 'C', 'I', 'S']));
  });

  it('removeImage drops its edges and tags', () => {
    const g = chain();
    g.setTag('t', 'B');
    expect(g.removeImage('B')).toBe(true);
    expect(g.images()).toEqual(['A', 'C']);
    expect(g.targetsOf('C', 'parent')).toEqual([]);
    expect(g.sourcesOf('A', 'parent')).toEqual([]);
    expect(g.hasTag('t')).toBe(false);
    expect(g.removeImage('B')).toBe(false);
  });
});

describe('removeImage and blobs', () => {
  function shared(): ImageGraph {
    const g = chain();
    g.addBlob('A', 'sha256:base', { role: 'layer', size: 100 });
    g.addBlob('B', 'sha256:base', { role: 'layer', size: 100 });
    g.addBlob('B', 'sha256:cfg-b', { role: 'config', size: 2 });
    g.addBlob('C', 'sha256:cfg-c', { role: 'config', size: 3 });
    return g;
  }

  it('drops the blobs no image needs any more from blobs(), and keeps shared ones', () => {
    const g = shared();
    expect(g.blobs()).toEqual(['sha256:base', 'sha256:cfg-b', 'sha256:cfg-c']);
    g.removeImage('B');
    expect(g.blobs()).toEqual(['sha256:base', 'sha256:cfg-c']);
    expect(g.blobsOf('A')).toEqual([{ id: 'sha256:base', role: 'layer', size: 100 }]);
    g.removeImage('A');
    expect(g.blobs()).toEqual(['sha256:cfg-c']);
    g.removeImage('C');
    expect(g.blobs()).toEqual([]);
    expect(g.toJSON().blobSizes).toEqual({});
  });

  it('a dropped blob is gone: its id may name an image, and linked again it starts afresh', () => {
    const g = shared();
    g.removeImage('C');
    g.addImage('sha256:cfg-c');
    expect(g.hasImage('sha256:cfg-c')).toBe(true);
    g.removeImage('B');
    g.addBlob('A', 'sha256:cfg-b', { role: 'config' });
    expect(g.blobsOf('A')).toContainEqual({ id: 'sha256:cfg-b', role: 'config', size: undefined });
  });

  it('blobs() is always the union of blobsOf over the images left, whatever is removed', () => {
    const images = ['A', 'B', 'C', 'D', 'E'];
    const link = fc.record({
      image: fc.constantFrom(...images),
      blob: fc.constantFrom('sha256:1', 'sha256:2', 'sha256:3', 'sha256:4'),
      role: fc.constantFrom('config' as const, 'layer' as const),
    });
    const step = fc.oneof(
      link.map((l) => ({ op: 'link' as const, ...l })),
      fc.record({ op: fc.constant('drop' as const), image: fc.constantFrom(...images) }),
      fc.record({ op: fc.constant('add' as const), image: fc.constantFrom(...images) }),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 40 }), (steps) => {
        const g = new ImageGraph();
        for (const id of images) g.addImage(id);
        for (const s of steps) {
          if (s.op === 'add') g.addImage(s.image);
          else if (s.op === 'drop') g.removeImage(s.image);
          else if (g.hasImage(s.image)) g.addBlob(s.image, s.blob, { role: s.role, size: 1 });
          const needed = new Set(g.images().flatMap((i) => g.blobsOf(i).map((b) => b.id)));
          expect(g.blobs()).toEqual([...needed].sort());
        }
        expect(ImageGraph.fromJSON(g.toJSON()).blobs()).toEqual(g.blobs());
      }),
      { numRuns: 300 },
    );
  });
});

describe('loader warnings', () => {
  const w = (code: string, id: string, message = `${code} on ${id}`) => ({ code, id, message });

  it('addWarning keeps one warning per code and id, warnings() sorts by id then code', () => {
    const g = chain();
    g.addWarning(w('Z_CODE', 'b-folder'));
    g.addWarning(w('A_CODE', 'b-folder'));
    g.addWarning(w('A_CODE', 'a-folder', 'first'));
    g.addWarning(w('A_CODE', 'a-folder', 'second'));
    expect(g.warnings()).toEqual([
      w('A_CODE', 'a-folder', 'second'),
      w('A_CODE', 'b-folder'),
      w('Z_CODE', 'b-folder'),
    ]);
  });

  it('every plan made from the graph lists them: keep lists and policies alike', () => {
    const g = chain();
    g.setTag('v', 'C');
    g.addWarning(w('LAYOUT_FOLDER_NOT_COLLECTED', 'blobs/sha256'));
    expect(planCleanup(g, ['v']).warnings).toEqual([
      w('LAYOUT_FOLDER_NOT_COLLECTED', 'blobs/sha256'),
    ]);
    expect(planCleanup(g, { rules: [{ keepTags: ['v'] }] }).warnings).toEqual([
      w('LAYOUT_FOLDER_NOT_COLLECTED', 'blobs/sha256'),
    ]);
  });

  it('toJSON carries them (and omits the field when there are none); fromJSON and clone keep them', () => {
    const g = chain();
    expect('warnings' in g.toJSON()).toBe(false);
    g.addWarning(w('UNKNOWN_BLOB_ALGORITHM', 'blobs/md5'));
    const json = JSON.parse(JSON.stringify(g.toJSON()));
    expect(json.warnings).toEqual([w('UNKNOWN_BLOB_ALGORITHM', 'blobs/md5')]);
    expect(ImageGraph.fromJSON(json).warnings()).toEqual(g.warnings());
    expect(g.clone().warnings()).toEqual(g.warnings());
  });

  it('fromJSON names a malformed warning', () => {
    const json = { ...chain().toJSON(), warnings: [{ code: 'X', id: 7, message: 'm' }] };
    expect(() => ImageGraph.fromJSON(json)).toThrow(InvalidGraphError);
    expect(() => ImageGraph.fromJSON(json)).toThrow(/\$\.warnings\[0\]\.id/);
  });
});

describe('tags under any sequence of set, move, remove and image removal', () => {
  it('tags, targets, tagsOf and keep-by-name plans match a plain map of the same changes', () => {
    const images = ['A', 'B', 'C', 'D'];
    const step = fc.oneof(
      fc.record({
        op: fc.constant('set' as const),
        tag: fc.constantFrom('t1', 't2', 't3', 't4', 't5'),
        image: fc.constantFrom(...images),
      }),
      fc.record({ op: fc.constant('remove' as const), tag: fc.constantFrom('t1', 't2', 't3') }),
      fc.record({ op: fc.constant('drop' as const), image: fc.constantFrom(...images) }),
      fc.record({ op: fc.constant('plan' as const) }),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 30 }), (steps) => {
        const g = new ImageGraph();
        const model = new Map<string, string>();
        const alive = new Set(images);
        for (const id of images) g.addImage(id);
        for (const s of steps) {
          if (s.op === 'set' && alive.has(s.image)) {
            g.setTag(s.tag, s.image);
            model.set(s.tag, s.image);
          } else if (s.op === 'remove') {
            expect(g.removeTag(s.tag)).toBe(model.delete(s.tag));
          } else if (s.op === 'drop' && alive.has(s.image)) {
            g.removeImage(s.image);
            alive.delete(s.image);
            for (const [tag, image] of model) if (image === s.image) model.delete(tag);
          } else if (s.op === 'plan') {
            const keep = [...model.keys()].filter((_, i) => i % 2 === 0);
            const plan = planCleanup(g, keep);
            expect(plan.keptTags).toEqual([...keep].sort());
            const kept = new Set(keep.map((t) => model.get(t)));
            expect(plan.keep.map((k) => k.image)).toEqual([...kept].sort());
          }
          expect(g.tags()).toEqual([...model.keys()].sort());
          for (const [tag, image] of model) expect(g.tagTarget(tag)).toBe(image);
          for (const image of alive)
            expect(g.tagsOf(image)).toEqual(
              [...model]
                .filter(([, i]) => i === image)
                .map(([t]) => t)
                .sort(),
            );
        }
        expect(ImageGraph.fromJSON(g.toJSON()).toJSON()).toEqual(g.toJSON());
      }),
      { numRuns: 300 },
    );
  });
});

describe('graph warnings (what a loader found that is no image: a tag pointing at nothing)', () => {
  it('are kept once, sorted, round-trip through JSON and are listed by every plan', () => {
    const g = chain();
    g.setTag('v1', 'C');
    g.addWarning({ code: 'DANGLING_TAG', id: 'v2', message: 'v2 answers 404' });
    g.addWarning({ code: 'DANGLING_TAG', id: 'v0', message: 'v0 answers 404' });
    g.addWarning({ code: 'DANGLING_TAG', id: 'v2', message: 'v2 answers 404' });
    expect(g.warnings().map((w) => w.id)).toEqual(['v0', 'v2']);
    const back = ImageGraph.fromJSON(JSON.parse(JSON.stringify(g.toJSON())));
    expect(back.warnings()).toEqual(g.warnings());
    expect(back.toJSON()).toEqual(g.toJSON());
    expect(planCleanup(g, ['v1']).warnings.map((w) => w.id)).toEqual(['v0', 'v2']);
    expect(planCleanup(g, { rules: [{ keepTags: ['v1'] }] }).warnings.map((w) => w.id)).toEqual([
      'v0',
      'v2',
    ]);
    expect(chain().toJSON()).not.toHaveProperty('warnings');
    expect(() => ImageGraph.fromJSON({ ...g.toJSON(), warnings: [{ code: 1 }] })).toThrow(
      /\$\.warnings\[0\]/,
    );
  });
});
