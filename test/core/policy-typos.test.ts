import { describe, expect, it } from 'vitest';
import {
  type CleanupPlan,
  ImageGraph,
  InvalidPolicyError,
  planCleanup,
  type RetentionPolicy,
} from '../../src/index.js';

/** One image per tag in `repo`. */
function repoGraph(repo: string, tags: string[], g = new ImageGraph()): ImageGraph {
  tags.forEach((tag, i) => {
    const id = `${repo}@sha256:${repo.replace(/\W/g, '')}${i}`;
    g.addImage(id);
    g.setTag(`${repo}:${tag}`, id);
  });
  return g;
}

function policyError(g: ImageGraph, policy: RetentionPolicy): InvalidPolicyError {
  try {
    planCleanup(g, policy);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidPolicyError);
    return error as InvalidPolicyError;
  }
  throw new Error('expected the plan to be refused');
}

const codes = (plan: CleanupPlan) => plan.warnings.map((w) => `${w.code} ${w.id}`);

describe('a typo in a policy never widens a deletion', () => {
  it('a literal keepTags entry naming no tag in its rule scope is an error naming rule, entry and the near tag', () => {
    const g = repoGraph('team/app', ['latest', 'stable', 'main-1']);
    const error = policyError(g, {
      rules: [{ repositories: ['team/app'], keepTags: ['lastest', 'stable'] }],
    });
    expect(error.path).toBe('rules[0].keepTags[0]');
    expect(error.message).toContain('"lastest"');
    expect(error.message).toContain('did you mean "latest"');
    // How to allow a tag that may not exist yet.
    expect(error.message).toContain('/^lastest$/');
  });

  it('a literal matching a tag in another repository than the rule scope is still an error', () => {
    const g = repoGraph('team/app', ['stable']);
    repoGraph('other', ['latest'], g);
    const error = policyError(g, {
      rules: [{ repositories: ['team/app'], keepTags: ['latest', 'stable'] }],
    });
    expect(error.path).toBe('rules[0].keepTags[0]');
  });

  it('a literal outside the rule tags selection is an error, since the rule can never keep it', () => {
    const g = repoGraph('app', ['latest', 'release-1']);
    const error = policyError(g, { rules: [{ tags: ['release-*'], keepTags: ['latest'] }] });
    expect(error.path).toBe('rules[0].keepTags[0]');
  });

  it('no suggestion when no tag is close', () => {
    const g = repoGraph('app', ['main-1']);
    const error = policyError(g, { rules: [{ keepTags: ['production'] }] });
    expect(error.message).not.toContain('did you mean');
  });

  it('a literal protect.tags entry naming no tag in scope is an error', () => {
    const g = repoGraph('app', ['latest', 'stable']);
    const error = policyError(g, { rules: [{ keepTags: [] }], protect: { tags: ['stabel'] } });
    expect(error.path).toBe('protect.tags[0]');
    expect(error.message).toContain('did you mean "stable"');
  });

  it('written as a pattern, a tag that does not exist yet is allowed, with a warning', () => {
    const g = repoGraph('app', ['latest']);
    const plan = planCleanup(g, {
      rules: [{ keepTags: ['latest', '/^lastest$/', 'nightly-*'] }],
      protect: { tags: ['prod?'] },
    });
    expect(codes(plan)).toEqual([
      'PATTERN_MATCHES_NOTHING protect.tags[0]',
      'PATTERN_MATCHES_NOTHING rules[0].keepTags[1]',
      'PATTERN_MATCHES_NOTHING rules[0].keepTags[2]',
    ]);
    expect(plan.warnings[1]?.message).toContain('/^lastest$/');
  });

  it('a repositories entry that matches no repository is a warning; its rule checks no literal', () => {
    const g = repoGraph('team/app', ['latest']);
    const plan = planCleanup(g, {
      rules: [
        { repositories: ['team/app'], keepTags: ['latest'] },
        { repositories: ['team/ap', 'nothing/**'], keepTags: ['stable'] },
      ],
    });
    expect(codes(plan)).toEqual([
      'REPOSITORY_PATTERN_MATCHES_NOTHING rules[1].repositories[0]',
      'REPOSITORY_PATTERN_MATCHES_NOTHING rules[1].repositories[1]',
    ]);
    expect(plan.warnings[0]?.message).toContain('"team/ap"');
  });

  it('a tags selection entry that matches nothing is a warning (pattern) or an error (literal)', () => {
    const g = repoGraph('app', ['release-1', 'latest']);
    const plan = planCleanup(g, {
      rules: [{ tags: ['relase-*', 'release-*'], keepNewest: 1, orderBy: 'name' }],
    });
    expect(codes(plan)).toEqual(['PATTERN_MATCHES_NOTHING rules[0].tags[0]']);
    expect(policyError(g, { rules: [{ tags: ['lastest'], keepNewest: 1 }] }).path).toBe(
      'rules[0].tags[0]',
    );
  });
});
