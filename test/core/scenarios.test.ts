import { describe, expect, it } from 'vitest';
import {
  applyPlanToGraph,
  explain,
  ImageGraph,
  orphanedImages,
  planCleanup,
} from '../../src/index.js';

/** The original problem's first graph: A <- B <- C <- D. */
function scenario1(): ImageGraph {
  const g = new ImageGraph();
  for (const id of ['A', 'B', 'C', 'D']) g.addImage(id);
  g.addParent('B', 'A').addParent('C', 'B').addParent('D', 'C');
  g.setTag('version1', 'C').setTag('version2', 'D').setTag('latest', 'D');
  return g;
}

/** The second graph: A <- B <- D and B <- C (D is built on B, not on C). */
function scenario2(): ImageGraph {
  const g = new ImageGraph();
  for (const id of ['A', 'B', 'C', 'D']) g.addImage(id);
  g.addParent('B', 'A').addParent('D', 'B').addParent('C', 'B');
  g.setTag('version1', 'C').setTag('version2', 'D').setTag('latest', 'D');
  return g;
}

describe('the original scenarios', () => {
  it('scenario 1: keeping version2 and latest orphans nothing; version1 is untagged, C stays as D’s ancestor', () => {
    const g = scenario1();
    expect(orphanedImages(g, ['version2', 'latest'])).toEqual([]);
    const plan = planCleanup(g, ['version2', 'latest']);
    expect(plan.untag).toEqual([{ tag: 'version1', image: 'C' }]);
    expect(plan.delete).toEqual([]);
    expect(plan.keptTags).toEqual(['latest', 'version2']);
    expect(plan.keep.map((k) => k.image)).toEqual(['A', 'B', 'C', 'D']);
    expect(explain(plan, 'C')).toBe('kept: latest → D → C (parent)');
    expect(explain(plan, 'A')).toBe('kept: latest → D → C (parent) → B (parent) → A (parent)');
    expect(explain(plan, 'version1')).toBe(
      'untagged: version1 is removed; C stays (latest → D → C (parent))',
    );
    const after = applyPlanToGraph(g, plan);
    expect(after.tags()).toEqual(['latest', 'version2']);
    expect(after.images()).toEqual(['A', 'B', 'C', 'D']);
  });

  it('scenario 2: keeping version2 and latest orphans C, which is deleted with version1; A, B, D stay', () => {
    const g = scenario2();
    expect(orphanedImages(g, ['version2', 'latest'])).toEqual(['C']);
    const plan = planCleanup(g, ['version2', 'latest']);
    expect(plan.delete).toEqual([{ image: 'C', tags: ['version1'], wave: 0 }]);
    expect(plan.untag).toEqual([]);
    expect(plan.keep.map((k) => k.image)).toEqual(['A', 'B', 'D']);
    expect(explain(plan, 'C')).toBe(
      'deleted: no kept tag reaches it (its tags version1 go with it)',
    );
    expect(explain(plan, 'version1')).toBe(
      'deleted: tag version1 goes with C, which no kept tag reaches',
    );
    const after = applyPlanToGraph(g, plan);
    expect(after.images()).toEqual(['A', 'B', 'D']);
    expect(after.tags()).toEqual(['latest', 'version2']);
    expect(planCleanup(after, ['version2', 'latest']).delete).toEqual([]);
  });

  it('keeping only version1 in scenario 1 deletes D (and both its tags) but keeps C’s ancestors', () => {
    const plan = planCleanup(scenario1(), ['version1']);
    expect(plan.delete.map((d) => [d.image, d.tags])).toEqual([['D', ['latest', 'version2']]]);
    expect(plan.keep.map((k) => k.image)).toEqual(['A', 'B', 'C']);
  });
});
