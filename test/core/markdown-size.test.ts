/**
 * CI summaries have a size limit (GitHub: 1 MiB per step summary). The Markdown of a plan and of an
 * apply result must stay far below it whatever the registry's size: every list collapsed and capped.
 */
import { describe, expect, it } from 'vitest';
import type { ApplyResult } from '../../src/core/target.js';
import { ImageGraph, planCleanup, planMarkdown, resultMarkdown } from '../../src/index.js';

const MiB = 1024 * 1024;
const hex = (n: number) => n.toString(16).padStart(64, '0');

/** 50 repositories × 1,000 tagged images = 50,000 tags, with long registry ids. */
function bigRegistry(): ImageGraph {
  const g = new ImageGraph();
  for (let r = 0; r < 50; r++) {
    for (let i = 0; i < 1000; i++) {
      const image = `team-${r}/service-with-a-long-name@sha256:${hex(r * 1000 + i)}`;
      g.addImage(image);
      g.addBlob(image, `sha256:${hex(10_000_000 + r * 1000 + i)}`, { role: 'layer', size: 1000 });
      g.setTag(`team-${r}/service-with-a-long-name:build-${i}`, image);
    }
  }
  return g;
}

describe('Markdown summaries of a 50,000-tag registry', () => {
  const graph = bigRegistry();
  const plan = planCleanup(graph, (tag) => tag.endsWith(':build-999'));
  const header = { target: 'https://registry.example.com', basis: 'keep build-999' };

  it('the plan is under 1 MiB, its lists collapsed and capped with a pointer to the JSON', () => {
    expect(plan.delete.length).toBe(49_950);
    const md = planMarkdown(plan, header, graph);
    expect(Buffer.byteLength(md)).toBeLessThan(MiB / 4);
    expect(md).toContain('<details><summary>49950 images, dependents first</summary>');
    expect(md).toContain('… and 49850 more (the full list is in `regprune plan … --format json`)');
    expect(md).toContain('… and 49900 more'); // tag decisions: 50,000 - 100
    expect(md).toContain('### Repositories with the most deletions');
    // Every table row is a shown entry: 100 per list at most.
    const deleteRows = md.split('\n').filter((l) => l.startsWith('| 0 | `team-'));
    expect(deleteRows.length).toBe(100);
  });

  it('an apply result (dry run and real) is under 1 MiB, trouble first', () => {
    const outcomes = plan.delete.map((op, i) => ({
      action: 'delete' as const,
      id: op.image,
      status: i % 1000 === 0 ? ('skipped' as const) : ('done' as const),
      reason: i % 1000 === 0 ? `changed since plan: ${op.tags[0]} was pushed again` : undefined,
      requests: [`DELETE /v2/x/manifests/${op.image}`],
    }));
    const result: ApplyResult = {
      dryRun: false,
      outcomes,
      totals: { done: outcomes.length - 50, skipped: 50, failed: 0, planned: 0 },
      reclaimableBytes: plan.reclaimableBytes,
      notes: [],
    };
    const md = resultMarkdown(result);
    expect(Buffer.byteLength(md)).toBeLessThan(MiB / 4);
    expect(md.indexOf('Skipped or failed (50)')).toBeLessThan(md.indexOf('Done (49900)'));
    expect(md).toContain('… and 49800 more');
    const dry = resultMarkdown({ ...result, dryRun: true });
    const both = planMarkdown(plan, header, graph) + dry;
    expect(Buffer.byteLength(both)).toBeLessThan(MiB / 2);
  });
});
