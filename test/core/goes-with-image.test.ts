import { describe, expect, it } from 'vitest';
import { goesWithImage, isModeledAttachment } from '../../src/core/attachments.js';
import { ImageGraph, planCleanup } from '../../src/index.js';

const SUBJECT = `sha256:${'ab'.repeat(32)}`;
const SIG = `sha256:${'cd'.repeat(32)}`;
const OTHER = `sha256:${'ef'.repeat(32)}`;
const SIG_TAG = `r:sha256-${'ab'.repeat(32)}.sig`;

/** `r:old` on a subject that is deleted, with its cosign signature attached to it. */
function graph(): ImageGraph {
  const g = new ImageGraph();
  for (const d of [SUBJECT, SIG, OTHER]) g.addImage(`r@${d}`);
  g.addReferrer(`r@${SIG}`, `r@${SUBJECT}`);
  g.setTag('r:old', `r@${SUBJECT}`).setTag(SIG_TAG, `r@${SIG}`).setTag('r:keep', `r@${OTHER}`);
  return g;
}

describe('what a DELETE may take with an image (core)', () => {
  it('a planned tag on its planned image, and a modeled attachment tag, go with it; any other tag does not', () => {
    const g = graph();
    const plan = planCleanup(g, ['r:keep']);
    expect(plan.delete.map((op) => op.image)).toContain(`r@${SUBJECT}`);
    expect(goesWithImage(plan, g, 'r:old', `r@${SUBJECT}`)).toBe(true);
    expect(isModeledAttachment(g, SIG_TAG, `r@${SIG}`)).toBe(true);
    expect(goesWithImage(plan, g, SIG_TAG, `r@${SIG}`)).toBe(true);
    // A new name, a planned tag moved onto another image, a kept tag: none of them goes.
    expect(goesWithImage(plan, g, 'r:pushed', `r@${SUBJECT}`)).toBe(false);
    expect(goesWithImage(plan, g, 'r:old', `r@${SIG}`)).toBe(false);
    expect(goesWithImage(plan, g, 'r:keep', `r@${SUBJECT}`)).toBe(false);
    // An attachment-looking tag the graph does not hold as one is a plain root.
    expect(isModeledAttachment(g, SIG_TAG, `r@${OTHER}`)).toBe(false);
  });
});
