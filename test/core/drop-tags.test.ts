import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ImageGraph, planCleanup, planDropTags, UnknownTagError } from '../../src/index.js';

/** pr-1 alone on A; pr-2 and main on B; an index (latest) over C; pr-3 on C (a child). */
function graph(): ImageGraph {
  const g = new ImageGraph();
  for (const id of ['A', 'B', 'C', 'I']) g.addImage(id);
  g.addChild('I', 'C');
  g.setTag('pr-1', 'A').setTag('pr-2', 'B').setTag('main', 'B').setTag('latest', 'I');
  g.setTag('pr-3', 'C');
  return g;
}

describe('planDropTags ("delete these")', () => {
  it('a dropped tag alone on its image takes the image; one sharing it is only untagged', () => {
    const plan = planDropTags(graph(), ['pr-1', 'pr-2']);
    expect(plan.delete.map((op) => [op.image, op.tags])).toEqual([['A', ['pr-1']]]);
    expect(plan.untag).toEqual([{ tag: 'pr-2', image: 'B' }]);
    const decisions = Object.fromEntries((plan.tagDecisions ?? []).map((d) => [d.tag, d.reason]));
    expect(decisions).toMatchObject({ 'pr-1': 'listed in dropTags', main: 'not in dropTags' });
  });

  it('an image a kept index still needs stays (only its dropped tag goes)', () => {
    const plan = planDropTags(graph(), ['pr-3']);
    expect(plan.delete).toEqual([]);
    expect(plan.untag).toEqual([{ tag: 'pr-3', image: 'C' }]);
  });

  it('a tag that does not exist is an error naming it, and says why', () => {
    expect(() => planDropTags(graph(), ['pr-9'])).toThrow(UnknownTagError);
    expect(() => planDropTags(graph(), ['pr-9'])).toThrow(
      /"pr-9".*a tag to drop that does not exist/,
    );
  });

  it('is the keep-list plan of every other tag (property)', () => {
    const tags = ['pr-1', 'pr-2', 'main', 'latest', 'pr-3'];
    fc.assert(
      fc.property(fc.subarray(tags), (drop) => {
        const g = graph();
        const dropped = planDropTags(g, drop);
        const kept = planCleanup(
          g,
          tags.filter((t) => !drop.includes(t)),
        );
        expect(dropped.delete).toEqual(kept.delete);
        expect(dropped.untag).toEqual(kept.untag);
        expect(dropped.keptTags).toEqual(kept.keptTags);
      }),
    );
  });
});
