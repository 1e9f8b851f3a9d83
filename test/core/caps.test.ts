import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ImageGraph, planCleanup, refuseOverCaps } from '../../src/index.js';

/** `n` untagged images and one tagged one. */
function graph(n: number): ImageGraph {
  const g = new ImageGraph();
  for (let i = 0; i < n; i++) g.addImage(`old-${i}`);
  g.addImage('kept').setTag('latest', 'kept');
  return g;
}

describe('refuseOverCaps', () => {
  it('refuses a keep-list plan over maxDeletions or maxDeletionRatio, naming each cap', () => {
    const plan = refuseOverCaps(planCleanup(graph(4), ['latest']), {
      maxDeletions: 3,
      maxDeletionRatio: 0.5,
    });
    expect(plan.refused?.reason).toMatch(
      /^maxDeletions: the plan deletes 4 images, more than the cap of 3; maxDeletionRatio: the plan deletes 4 of 5 images in scope \(80%\), [^;]*; check the plan \(explain\), .*, or raise maxDeletions to 4 and maxDeletionRatio to 0.8 if this deletion is meant$/,
    );
  });

  it('leaves a plan within its caps alone, and keeps a refusal it already has', () => {
    const plan = planCleanup(graph(2), ['latest']);
    expect(refuseOverCaps(plan, { maxDeletions: 2, maxDeletionRatio: 0.7 }).refused).toBeNull();
    plan.refused = { reason: 'earlier' };
    expect(refuseOverCaps(plan, { maxDeletions: 0 }).refused?.reason).toMatch(
      /^earlier; maxDeletions: /,
    );
  });

  it('names the caps as the caller spells them', () => {
    const plan = refuseOverCaps(planCleanup(graph(2), ['latest']), { maxDeletions: 1 }, 3, {
      maxDeletions: '--max-deletions',
      maxDeletionRatio: '--max-deletion-ratio',
      narrow: 'keep more tags',
    });
    expect(plan.refused?.reason).toContain('keep more tags, or raise --max-deletions to 2');
  });

  it('refuses exactly when deletions exceed a cap (property)', () => {
    fc.assert(
      fc.property(
        fc.nat(20),
        fc.nat(25),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (n, max, ratio) => {
          const plan = refuseOverCaps(planCleanup(graph(n), ['latest']), {
            maxDeletions: max,
            maxDeletionRatio: ratio,
          });
          const over = n > max || n / (n + 1) > ratio;
          expect(plan.refused !== null).toBe(over);
        },
      ),
    );
  });

  it('rejects caps that are not caps', () => {
    const plan = planCleanup(graph(1), ['latest']);
    expect(() => refuseOverCaps(plan, { maxDeletions: -1 })).toThrow(RangeError);
    expect(() => refuseOverCaps(plan, { maxDeletions: 1.5 })).toThrow(RangeError);
    expect(() => refuseOverCaps(plan, { maxDeletionRatio: 2 })).toThrow(RangeError);
  });
});
