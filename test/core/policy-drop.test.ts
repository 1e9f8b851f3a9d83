/** `dropTags` in a policy rule: "keep every tag except these", the policy form of `--drop`. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type CleanupPlan,
  explain,
  ImageGraph,
  InvalidPolicyError,
  planCleanup,
  planDropTags,
  retentionPolicySchema,
  validatePolicy,
} from '../../src/index.js';

/** team/app: pr-1 alone on A; pr-2 and main on B; an index (latest) over C, which pr-3 tags. */
function graph(): ImageGraph {
  const g = new ImageGraph();
  const id = (x: string) => `team/app@sha256:${x}`;
  for (const x of ['a', 'b', 'c', 'i']) g.addImage(id(x));
  g.addChild(id('i'), id('c'));
  g.setTag('team/app:pr-1', id('a'));
  g.setTag('team/app:pr-2', id('b'));
  g.setTag('team/app:main', id('b'));
  g.setTag('team/app:latest', id('i'));
  g.setTag('team/app:pr-3', id('c'));
  g.addImage('other@sha256:o');
  g.setTag('other:pr-1', 'other@sha256:o');
  return g;
}

const kept = (plan: CleanupPlan) =>
  (plan.tagDecisions ?? []).filter((d) => d.kept).map((d) => d.tag);

describe('dropTags', () => {
  it('keeps every selected tag except the ones it matches, with the same closure as any plan', () => {
    const plan = planCleanup(graph(), {
      rules: [{ repositories: ['team/**'], dropTags: ['pr-*'] }],
    });
    expect(kept(plan)).toEqual(['other:pr-1', 'team/app:latest', 'team/app:main']);
    // pr-1's image goes; pr-2 only loses its tag (main needs B); pr-3's image is a child of latest.
    expect(plan.delete.map((op) => [op.image, op.tags])).toEqual([
      ['team/app@sha256:a', ['team/app:pr-1']],
    ]);
    expect(plan.untag.map((op) => op.tag)).toEqual(['team/app:pr-2', 'team/app:pr-3']);
    expect(explain(plan, 'team/app:main')).toBe('kept: rule 1 keeps every tag but dropTags');
    expect(explain(plan, 'team/app:pr-1')).toMatch(
      /^deleted: rule 1 dropTags "pr-\*"; team\/app:pr-1 goes with team\/app@sha256:a/,
    );
  });

  it('another rule may keep a dropped tag (any rule keeps)', () => {
    const plan = planCleanup(graph(), {
      rules: [{ dropTags: ['pr-*'] }, { tags: ['pr-*'], keepTags: ['pr-1'] }],
    });
    expect(kept(plan)).toContain('team/app:pr-1');
    expect(kept(plan)).toContain('other:pr-1');
  });

  it('plans exactly as planDropTags for the same exact names (property)', () => {
    const tags = ['pr-1', 'pr-2', 'pr-3', 'main', 'latest'];
    fc.assert(
      fc.property(fc.subarray(tags, { minLength: 1 }), (drop) => {
        const g = graph();
        const byPolicy = planCleanup(g, {
          rules: [{ repositories: ['team/app'], dropTags: drop }],
          // other: out of scope, so both plans leave it alone
        });
        const byList = planDropTags(
          g,
          drop.map((t) => `team/app:${t}`),
        );
        expect(byPolicy.delete).toEqual(byList.delete);
        expect(byPolicy.untag).toEqual(byList.untag);
        expect(byPolicy.keptTags).toEqual(byList.keptTags);
      }),
    );
  });

  it('an exact name that names no tag is an error, like --drop; a pattern is a warning', () => {
    const typo = () =>
      planCleanup(graph(), { rules: [{ repositories: ['team/**'], dropTags: ['pr-l'] }] });
    expect(typo).toThrow(InvalidPolicyError);
    expect(typo).toThrow(/^rules\[0\]\.dropTags\[0\]: "pr-l" names no tag .*did you mean "pr-1"/);
    expect(typo).toThrow(/leave the tag meant to go/);
    const plan = planCleanup(graph(), { rules: [{ dropTags: ['feature-*'] }] });
    expect(plan.warnings.map((w) => `${w.code} ${w.id}`)).toEqual([
      'PATTERN_MATCHES_NOTHING rules[0].dropTags[0]',
    ]);
    expect(plan.delete).toEqual([]);
  });

  it('is not combined with other keep criteria in one rule, and is never empty', () => {
    expect(() => validatePolicy({ rules: [{ dropTags: ['pr-*'], keepNewest: 3 }] })).toThrow(
      /^rules\[0\]\.dropTags: cannot be combined with keepNewest in one rule.*to keep some dropped tags, add a rule/,
    );
    expect(() => validatePolicy({ rules: [{ dropTags: [] }] })).toThrow(
      /^rules\[0\]\.dropTags: must not be empty/,
    );
    expect(validatePolicy({ rules: [{ dropTags: ['pr-*'] }] })).toEqual({
      rules: [{ dropTags: ['pr-*'] }],
    });
  });

  it('the JSON Schema knows dropTags and that it stands alone', () => {
    const rule = retentionPolicySchema.$defs.rule;
    expect(rule.properties.dropTags).toMatchObject({ type: 'array', minItems: 1 });
    expect(rule.anyOf).toContainEqual({ required: ['dropTags'] });
    expect(rule.dependentSchemas.dropTags).toEqual({
      not: {
        anyOf: [
          { required: ['keepTags'] },
          { required: ['keepNewest'] },
          { required: ['keepYoungerThan'] },
        ],
      },
    });
  });
});
