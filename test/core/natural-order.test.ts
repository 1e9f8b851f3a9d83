/** Tag lists a person reads (table, Markdown, explain) are in natural order: main-2 before main-10. */
import { describe, expect, it } from 'vitest';
import {
  compareNatural,
  explain,
  ImageGraph,
  planCleanup,
  planMarkdown,
  planTable,
} from '../../src/index.js';

const HEADER = { target: 'oci:/demo', basis: 'test' };
const POLICY = { rules: [{ keepTags: ['main-12'] }] };

/** Tags main-1 … main-12 on images m1 … m12; m1 also carries build-1, build-10 and build-2. */
function builds(): ImageGraph {
  const g = new ImageGraph();
  for (let i = 1; i <= 12; i++) g.addImage(`m${i}`).setTag(`main-${i}`, `m${i}`);
  g.addImage('base').addParent('m12', 'base').setTag('base-2', 'base').setTag('base-10', 'base');
  g.setTag('build-1', 'm1').setTag('build-10', 'm1').setTag('build-2', 'm1');
  return g;
}

/** The positions of `names` in `text`, in the order the names are given. */
function positions(text: string, names: string[]): number[] {
  return names.map((name) => {
    const at = text.search(new RegExp(`\\b${name.replace(/[.-]/g, '\\$&')}\\b`));
    expect(at, `${name} in:\n${text}`).toBeGreaterThanOrEqual(0);
    return at;
  });
}

function expectInOrder(text: string, names: string[]): void {
  const at = positions(text, names);
  expect(at).toEqual([...at].sort((a, b) => a - b));
}

describe('natural order of tags in what people read', () => {
  it('compareNatural orders digit runs as numbers and is the core helper', () => {
    expect(['main-10', 'main-2', 'main-1'].sort(compareNatural)).toEqual([
      'main-1',
      'main-2',
      'main-10',
    ]);
  });

  it('the table lists tag decisions, untags and a deletion tags in natural order', () => {
    const g = builds();
    const plan = planCleanup(g, POLICY, { now: '2024-06-01T00:00:00Z' });
    const table = planTable(plan, HEADER, g);
    const decisions = table.slice(table.indexOf('Tag decisions'));
    expectInOrder(decisions, [
      'main-1',
      'main-2',
      'main-3',
      'main-9',
      'main-10',
      'main-11',
      'main-12',
    ]);
    expectInOrder(decisions, ['build-1', 'build-2', 'build-10']);
    const untag = table.slice(table.indexOf('Untag'), table.indexOf('Delete'));
    expectInOrder(untag, ['base-2', 'base-10']);
    const del = table.slice(table.indexOf('Delete'), table.indexOf('Kept images'));
    expect(del).toContain('build-1, build-2, build-10, main-1');
  });

  it('the Markdown lists tag decisions, untags and a deletion tags in natural order', () => {
    const g = builds();
    const plan = planCleanup(g, POLICY, { now: '2024-06-01T00:00:00Z' });
    const md = planMarkdown(plan, HEADER, g);
    const decisions = md.slice(md.indexOf('### Tag decisions'));
    expectInOrder(decisions, ['main-1', 'main-2', 'main-9', 'main-10', 'main-12']);
    const untag = md.slice(md.indexOf('### Untag'), md.indexOf('### Kept images'));
    expectInOrder(untag, ['base-2', 'base-10']);
    expect(md).toContain('`build-1`, `build-2`, `build-10`, `main-1`');
  });

  it('explain names the tags that go with a deleted image in natural order', () => {
    const plan = planCleanup(builds(), ['main-12']);
    expect(explain(plan, 'm1')).toContain('build-1, build-2, build-10, main-1');
  });
});
