/**
 * How plans word things for people: a layout (images without a repository) is not called
 * "(no repository)", and a safety-cap refusal gives its advice once.
 */
import { describe, expect, it } from 'vitest';
import { ImageGraph, PlanRefusedError, planCleanup, refuseOverCaps } from '../../src/index.js';

const NOW = { now: '2024-06-01T00:00:00Z' };

/** A layout-shaped graph: ids without a repository, tags main-1 … main-4. */
function layoutLike(): ImageGraph {
  const g = new ImageGraph();
  for (let i = 1; i <= 4; i++) g.addImage(`@sha256:${i}`).setTag(`main-${i}`, `@sha256:${i}`);
  g.addImage('@sha256:loose');
  return g;
}

const count = (text: string, part: string) => text.split(part).length - 1;

describe('layout wording', () => {
  it('keepNewest ranks say nothing of a repository when the images have none', () => {
    const plan = planCleanup(layoutLike(), { rules: [{ keepNewest: 2, orderBy: 'name' }] }, NOW);
    const reasons = (plan.tagDecisions ?? []).map((d) => d.reason);
    expect(reasons).toContain('rule 1 keepNewest 2 (rank 1 of 4 images)');
    expect(reasons.join('\n')).not.toContain('no repository');
  });

  it('untagged keepNewest and out-of-scope notes do not say "(no repository)" either', () => {
    const kept = planCleanup(
      layoutLike(),
      { rules: [{ keepTags: ['main-4'] }], untagged: { keepNewest: 1 } },
      NOW,
    );
    const notes = kept.keep.map((k) => k.note ?? '').join('\n');
    expect(notes).toContain('untagged keepNewest 1 (rank 1 of 1)');
    expect(notes).not.toContain('no repository');
    const scoped = planCleanup(
      layoutLike(),
      { rules: [{ repositories: ['app/**'], keepNewest: 1 }] },
      NOW,
    );
    const scopeNotes = scoped.keep.map((k) => k.note ?? '').join('\n');
    expect(scopeNotes).toContain(
      'out of policy scope: it has no repository (an OCI layout image), and every rule names repositories',
    );
    expect(scopeNotes).not.toContain('no repository)');
  });
});

describe('safety-cap refusal', () => {
  it('gives its advice once when both caps are exceeded', () => {
    const plan = planCleanup(
      layoutLike(),
      { rules: [{ keepTags: [] }], maxDeletions: 1, maxDeletionRatio: 0.5 },
      NOW,
    );
    const reason = plan.refused?.reason ?? '';
    expect(count(new PlanRefusedError(reason).message, 'raise')).toBe(1);
    expect(reason).toBe(
      'maxDeletions: the plan deletes 5 images, more than the cap of 1; maxDeletionRatio: the plan deletes 5 of 5 images in scope (100%), more than the cap of 0.5 (50%); check the plan (explain), narrow the rules, or raise maxDeletions to 5 and maxDeletionRatio to 1 if this deletion is meant',
    );
  });

  it('a cap added to a refused plan merges into one advice', () => {
    const plan = planCleanup(layoutLike(), { rules: [{ keepTags: [] }], maxDeletions: 1 }, NOW);
    refuseOverCaps(plan, { maxDeletionRatio: 0.2 }, plan.summary.images, {
      maxDeletions: '--max-deletions',
      maxDeletionRatio: '--max-deletion-ratio',
      narrow: 'narrow --repo or keep more tags',
    });
    const reason = plan.refused?.reason ?? '';
    expect(count(reason, 'check the plan')).toBe(1);
    expect(count(reason, 'if this deletion is meant')).toBe(1);
    expect(reason).toContain('raise maxDeletions to 5 and --max-deletion-ratio to 1');
    expect(reason).toContain('narrow the rules or narrow --repo or keep more tags');
  });
});
