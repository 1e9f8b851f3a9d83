import { describe, expect, it } from 'vitest';
import {
  applyPlanToGraph,
  type CleanupPlan,
  explain,
  ImageGraph,
  InvalidPolicyError,
  planCleanup,
  type RetentionPolicy,
  selectTags,
} from '../../src/index.js';

const NOW = '2024-06-30T00:00:00Z';
const day = (d: number) => `2024-06-${String(d).padStart(2, '0')}T00:00:00Z`;

/** One image per tag in `repo`, created on the given June day (`null`: no date; `1970`: epoch). */
function repoGraph(
  repo: string,
  tags: Record<string, number | null | '1970'>,
  g = new ImageGraph(),
): ImageGraph {
  let i = 0;
  for (const [tag, d] of Object.entries(tags)) {
    const id = `${repo}@sha256:${repo.replace(/\W/g, '')}${i++}`;
    const created = d === null ? undefined : d === '1970' ? '1970-01-01T00:00:00Z' : day(d);
    g.addImage(id, created === undefined ? undefined : { created });
    g.setTag(`${repo}:${tag}`, id);
  }
  return g;
}

const kept = (plan: CleanupPlan) =>
  (plan.tagDecisions ?? []).filter((d) => d.kept).map((d) => d.tag);
const deletedTags = (plan: CleanupPlan) => plan.delete.flatMap((op) => op.tags).sort();

describe('policy criteria, each alone', () => {
  it('keepTags keeps globs and /regex/ matches of the bare tag name, nothing else', () => {
    const g = repoGraph('app', { latest: 1, 'v1.0.0': 2, 'v1.0.0-rc1': 3, 'main-1': 4 });
    const plan = planCleanup(g, { rules: [{ keepTags: ['latest', '/^v\\d+\\.\\d+\\.\\d+$/'] }] });
    expect(kept(plan)).toEqual(['app:latest', 'app:v1.0.0']);
    expect(deletedTags(plan)).toEqual(['app:main-1', 'app:v1.0.0-rc1']);
    expect(explain(plan, 'app:latest')).toBe('kept: rule 1 keepTags "latest"');
    expect(explain(plan, 'app:main-1')).toMatch(
      /^deleted: no rule kept it; app:main-1 goes with app@sha256:app3, which no kept tag reaches$/,
    );
  });

  it('keepNewest by created keeps the N newest per repository, with rank reasons', () => {
    const g = repoGraph('app/api', { a: 3, b: 1, c: 5, d: 2 });
    repoGraph('app/web', { x: 1, y: 2 }, g);
    const plan = planCleanup(g, { rules: [{ keepNewest: 2 }] }, { now: NOW });
    expect(kept(plan)).toEqual(['app/api:a', 'app/api:c', 'app/web:x', 'app/web:y']);
    expect(explain(plan, 'app/api:a')).toBe(
      'kept: rule 1 keepNewest 2 (rank 2 of 4 images in app/api)',
    );
    expect(explain(plan, 'app/api:c')).toBe(
      'kept: rule 1 keepNewest 2 (rank 1 of 4 images in app/api)',
    );
    expect(deletedTags(plan)).toEqual(['app/api:b', 'app/api:d']);
  });

  it('keepNewest does not need now (ordering is relative)', () => {
    const g = repoGraph('app', { a: 1, b: 2 });
    expect(selectTags(g, { rules: [{ keepNewest: 1 }] }).filter((d) => d.kept)).toEqual([
      {
        tag: 'app:b',
        kept: true,
        rule: 1,
        reason: 'rule 1 keepNewest 1 (rank 1 of 2 images in app)',
        ageSource: 'created',
      },
    ]);
  });

  it('keepYoungerThan keeps tags whose image is younger than the duration before now', () => {
    const g = repoGraph('app', { old: 1, edge: 20, young: 29 });
    const plan = planCleanup(g, { rules: [{ keepYoungerThan: '10d' }] }, { now: NOW });
    // edge is exactly 10 days old: not younger than 10d.
    expect(kept(plan)).toEqual(['app:young']);
    expect(explain(plan, 'app:young')).toBe(
      'kept: rule 1 keepYoungerThan 10d (created 2024-06-29T00:00:00.000Z)',
    );
    const later = planCleanup(g, { rules: [{ keepYoungerThan: '1w3d1s' }] }, { now: NOW });
    expect(kept(later)).toEqual(['app:edge', 'app:young']);
  });

  it('now accepts a Date, a string and epoch milliseconds alike', () => {
    const g = repoGraph('app', { a: 25, b: 28 });
    const policy: RetentionPolicy = { rules: [{ keepYoungerThan: '3d' }] };
    const ms = Date.parse(NOW);
    const results = [new Date(ms), NOW, ms].map((now) => kept(planCleanup(g, policy, { now })));
    expect(results).toEqual([['app:b'], ['app:b'], ['app:b']]);
  });

  it('a policy that measures age without now throws a typed error naming the field', () => {
    const g = repoGraph('app', { a: 1 });
    expect(() => planCleanup(g, { rules: [{ keepTags: [] }, { keepYoungerThan: '1d' }] })).toThrow(
      /^options\.now: is required because rules\[1\]\.keepYoungerThan measures age from it/,
    );
    expect(() =>
      planCleanup(g, { rules: [{ keepTags: ['*'] }], untagged: { keepYoungerThan: '1d' } }),
    ).toThrow(InvalidPolicyError);
    expect(() => planCleanup(g, { rules: [{ keepNewest: 1 }] }, { now: 'yesterday' })).toThrow(
      /options\.now: must be a Date/,
    );
  });

  it('a rule without repositories matches every repository, including the seed-style one', () => {
    const g = repoGraph('x', { a: 1 });
    g.addImage('A').addImage('B');
    g.setTag('version1', 'A').setTag('version2', 'B');
    const plan = planCleanup(g, { rules: [{ keepTags: ['version2'] }] });
    expect(kept(plan)).toEqual(['version2']);
    expect(plan.delete.map((op) => op.image).sort()).toEqual(['A', 'x@sha256:x0']);
  });
});

describe('ordering', () => {
  it('semver: pre-releases before their release, v prefix allowed, non-semver first (oldest)', () => {
    const tags = [
      '1.10.0',
      'v1.9.0',
      '1.2.0',
      '2.0.0-rc.1',
      '2.0.0-rc.2',
      '2.0.0-beta.11',
      '2.0.0-beta.2',
      '2.0.0',
      'v2.0.1-alpha',
      'latest',
      '1.0.0+build.7',
    ];
    const g = new ImageGraph();
    tags.forEach((t, i) => {
      g.addImage(`r@sha256:${i}`).setTag(`r:${t}`, `r@sha256:${i}`);
    });
    const decisions = selectTags(g, { rules: [{ orderBy: 'semver', keepNewest: tags.length }] });
    const byRank = decisions
      .map((d) => [d.tag.slice(2), Number(/rank (\d+)/.exec(d.reason)?.[1])] as const)
      .sort((a, b) => b[1] - a[1])
      .map(([t]) => t);
    expect(byRank).toEqual([
      'latest',
      '1.0.0+build.7',
      '1.2.0',
      'v1.9.0',
      '1.10.0',
      '2.0.0-beta.2',
      '2.0.0-beta.11',
      '2.0.0-rc.1',
      '2.0.0-rc.2',
      '2.0.0',
      'v2.0.1-alpha',
    ]);
    const three = selectTags(g, {
      rules: [{ tags: ['/^v?\\d/'], orderBy: 'semver', keepNewest: 3 }],
    });
    expect(three.filter((d) => d.kept).map((d) => d.tag)).toEqual([
      'r:2.0.0',
      'r:2.0.0-rc.2',
      'r:v2.0.1-alpha',
    ]);
  });

  it('name: natural order puts main-10 after main-9', () => {
    const g = repoGraph('app', { 'main-9': 5, 'main-10': 1, 'main-2': 9, 'main-100': 2 });
    const plan = planCleanup(g, { rules: [{ orderBy: 'name', keepNewest: 2 }] });
    expect(kept(plan)).toEqual(['app:main-10', 'app:main-100']);
  });

  it('created ties are broken by tag name (natural), so results are deterministic', () => {
    const g = new ImageGraph();
    g.addImage('app@sha256:1', { created: day(3) });
    g.addImage('app@sha256:2', { created: day(3) });
    g.setTag('app:b-2', 'app@sha256:1').setTag('app:b-10', 'app@sha256:2');
    const decisions = selectTags(g, { rules: [{ keepNewest: 1 }] });
    expect(decisions.filter((d) => d.kept).map((d) => d.tag)).toEqual(['app:b-10']);
    const plan = planCleanup(g, { rules: [{ keepNewest: 1 }] });
    expect(plan.delete.map((op) => op.image)).toEqual(['app@sha256:1']);
    expect(explain(plan, 'app:b-2')).toBe(
      'deleted: no rule kept it; app:b-2 goes with app@sha256:1, which no kept tag reaches',
    );
  });
});

describe('groupBy', () => {
  it('counts keepNewest per capture-group value; unmatched tags form one group of their own', () => {
    const g = repoGraph('app', {
      'main-1': 1,
      'main-2': 2,
      'main-3': 3,
      'feat-x-1': 4,
      'feat-x-2': 5,
      latest: 6,
      dev: 7,
    });
    const plan = planCleanup(g, {
      rules: [{ groupBy: '^(.*)-\\d+$', orderBy: 'name', keepNewest: 1 }],
    });
    expect(kept(plan)).toEqual(['app:feat-x-2', 'app:latest', 'app:main-3']);
    expect(explain(plan, 'app:main-3')).toBe(
      'kept: rule 1 keepNewest 1 (rank 1 of 3 images in app, group "main")',
    );
    expect(explain(plan, 'app:latest')).toBe(
      'kept: rule 1 keepNewest 1 (rank 1 of 2 images in app, tags groupBy does not match)',
    );
  });

  it('groups are per repository too', () => {
    const g = repoGraph('a', { 'main-1': 1, 'main-2': 2 });
    repoGraph('b', { 'main-1': 1, 'main-2': 2 }, g);
    const plan = planCleanup(g, { rules: [{ groupBy: '/^(main)-/', keepNewest: 1 }] });
    expect(kept(plan)).toEqual(['a:main-2', 'b:main-2']);
  });
});

describe('select, then count', () => {
  it('tags narrows the rule: keepNewest 2 counts only release-* tags', () => {
    const g = repoGraph('app', { 'release-1': 1, 'release-2': 2, 'release-3': 3, 'tmp-1': 20 });
    const plan = planCleanup(g, { rules: [{ tags: ['release-*'], keepNewest: 2 }] });
    expect(kept(plan)).toEqual(['app:release-2', 'app:release-3']);
    expect(deletedTags(plan)).toEqual(['app:release-1', 'app:tmp-1']);
  });

  it('keepTags inside a narrowed rule only keeps among the selected tags', () => {
    const g = repoGraph('app', { 'release-1': 1, 'tmp-1': 2 });
    const plan = planCleanup(g, { rules: [{ tags: ['release-*'], keepTags: ['*-1'] }] });
    expect(kept(plan)).toEqual(['app:release-1']);
  });
});

describe('combinations', () => {
  it('within one rule each criterion keeps on its own; across rules any rule keeps', () => {
    const g = repoGraph('app', {
      latest: 1,
      'main-1': 2,
      'main-2': 3,
      'main-3': 4,
      'hot-1': 29,
      'v1.0.0': 1,
    });
    const policy: RetentionPolicy = {
      rules: [
        { keepTags: ['latest'], keepNewest: 1, orderBy: 'name', tags: ['main-*', 'latest'] },
        { keepYoungerThan: '2d' },
        { keepTags: ['v*'] },
      ],
    };
    const plan = planCleanup(g, policy, { now: NOW });
    expect(plan.tagDecisions).toEqual([
      // Rule 2's keepYoungerThan read every image's age: each decision says where it came from.
      {
        tag: 'app:hot-1',
        kept: true,
        rule: 2,
        reason: expect.stringMatching(/^rule 2 keepYoungerThan 2d \(created /),
        ageSource: 'created',
      },
      {
        tag: 'app:latest',
        kept: true,
        rule: 1,
        reason: 'rule 1 keepTags "latest"',
        ageSource: 'created',
      },
      {
        tag: 'app:main-1',
        kept: false,
        rule: null,
        reason: 'no rule kept it',
        ageSource: 'created',
      },
      {
        tag: 'app:main-2',
        kept: false,
        rule: null,
        reason: 'no rule kept it',
        ageSource: 'created',
      },
      {
        tag: 'app:main-3',
        kept: true,
        rule: 1,
        reason: 'rule 1 keepNewest 1 (rank 1 of 4 images in app)',
        ageSource: 'created',
      },
      {
        tag: 'app:v1.0.0',
        kept: true,
        rule: 3,
        reason: 'rule 3 keepTags "v*"',
        ageSource: 'created',
      },
    ]);
    expect(plan.keptTags).toEqual(kept(plan));
  });

  it('the first rule that keeps a tag is the one named', () => {
    const g = repoGraph('app', { latest: 1 });
    const plan = planCleanup(g, { rules: [{ keepNewest: 5 }, { keepTags: ['latest'] }] });
    expect(plan.tagDecisions?.[0]?.rule).toBe(1);
  });
});

describe('scope', () => {
  it('repositories no rule matches are out of scope: nothing in them is untagged or deleted', () => {
    const g = repoGraph('team/a', { old: 1, new: 2 });
    repoGraph('team/a/b', { old: 1 }, g);
    repoGraph('other', { old: 1, new: 2 }, g);
    g.addImage('other@sha256:untagged', { created: '1970-01-01T00:00:00Z' });
    const plan = planCleanup(g, { rules: [{ repositories: ['team/**'], keepNewest: 1 }] });
    expect(plan.delete.map((op) => op.image)).toEqual(['team/a@sha256:teama0']);
    expect(plan.untag).toEqual([]);
    expect(kept(plan)).toEqual(['other:new', 'other:old', 'team/a/b:old', 'team/a:new']);
    expect(explain(plan, 'other:old')).toBe('kept: out of policy scope');
    expect(explain(plan, 'other@sha256:untagged')).toBe(
      'kept: repository other is out of policy scope → other@sha256:untagged',
    );
    expect(plan.warnings).toEqual([]); // out-of-scope dates are never consulted
  });

  it('repository globs: * stays within a segment, ** spans segments', () => {
    const g = repoGraph('team/a', { t: 1 });
    repoGraph('team/a/b', { t: 1 }, g);
    repoGraph('teamx', { t: 1 }, g);
    const one = planCleanup(g, { rules: [{ repositories: ['team/*'], keepTags: [] }] });
    expect(one.delete.flatMap((op) => op.tags)).toEqual(['team/a:t']);
    const deep = planCleanup(g, { rules: [{ repositories: ['team/**'], keepTags: [] }] });
    expect(deletedTags(deep)).toEqual(['team/a/b:t', 'team/a:t']);
  });
});

describe('protect', () => {
  it('protected tags and images beat every rule, and their images stay', () => {
    const g = repoGraph('app', { latest: 1, keepme: 2, other: 3, 'main-1': 4 });
    g.addImage('app@sha256:base');
    g.addParent('app@sha256:app0', 'app@sha256:base');
    const policy: RetentionPolicy = {
      rules: [{ keepTags: [] }],
      protect: { tags: ['lat*'], images: ['app@sha256:app1', 'sha256:app2', 'sha256:gone'] },
    };
    const plan = planCleanup(g, policy);
    expect(kept(plan)).toEqual(['app:keepme', 'app:latest', 'app:other']);
    expect(plan.delete.map((op) => op.image)).toEqual(['app@sha256:app3']);
    expect(explain(plan, 'app:latest')).toBe('kept: protected (protect.tags "lat*")');
    expect(explain(plan, 'app:keepme')).toBe(
      'kept: protected (its image app@sha256:app1 is in protect.images)',
    );
    expect(explain(plan, 'app@sha256:base')).toBe(
      'kept: app:latest → app@sha256:app0 → app@sha256:base (parent)',
    );
    expect(plan.warnings.map((w) => [w.code, w.id])).toEqual([
      ['PROTECTED_IMAGE_NOT_FOUND', 'sha256:gone'],
    ]);
  });

  it('protect beats caps-free deletion, age limits and keepNewest alike', () => {
    const g = repoGraph('app', { a: 1, b: 2, c: 3 });
    const plan = planCleanup(
      g,
      { rules: [{ keepNewest: 1, keepYoungerThan: '1d' }], protect: { tags: ['a'] } },
      { now: NOW },
    );
    expect(kept(plan)).toEqual(['app:a', 'app:c']);
  });
});

describe('untagged images', () => {
  function withUntagged(): ImageGraph {
    const g = repoGraph('app', { latest: 29 });
    g.addImage('app@sha256:young', { created: day(27) });
    g.addImage('app@sha256:old', { created: day(1) });
    g.addImage('app@sha256:epoch', { created: '1970-01-01T00:00:01Z' });
    g.addImage('app@sha256:youngparent', { created: day(1) });
    g.addParent('app@sha256:young', 'app@sha256:youngparent');
    g.addImage('app@sha256:sig', { created: day(29), artifactType: 'application/x.sig' });
    g.addReferrer('app@sha256:sig', 'app@sha256:old');
    return g;
  }

  it('without untagged.keepYoungerThan they are deleted', () => {
    const plan = planCleanup(withUntagged(), { rules: [{ keepTags: ['latest'] }] });
    expect(plan.delete.map((op) => op.image).sort()).toEqual([
      'app@sha256:epoch',
      'app@sha256:old',
      'app@sha256:sig',
      'app@sha256:young',
      'app@sha256:youngparent',
    ]);
  });

  it('the grace period keeps young ones and what they need; old, undated and referrers go', () => {
    const g = withUntagged();
    const plan = planCleanup(
      g,
      { rules: [{ keepTags: ['latest'] }], untagged: { keepYoungerThan: '7d' } },
      { now: NOW },
    );
    expect(plan.delete.map((op) => op.image)).toEqual([
      'app@sha256:epoch',
      'app@sha256:sig',
      'app@sha256:old',
    ]);
    expect(explain(plan, 'app@sha256:youngparent')).toBe(
      'kept: untagged grace period (created 2024-06-27T00:00:00.000Z, younger than 7d) → app@sha256:young → app@sha256:youngparent (parent)',
    );
    expect(plan.warnings.map((w) => [w.code, w.id])).toEqual([
      ['UNKNOWN_DATE', 'app@sha256:epoch'],
    ]);
    applyPlanToGraph(g, plan);
  });
});

describe('unknown dates', () => {
  it('1970 and missing dates sort as oldest, are never young, and are all listed as warnings', () => {
    const g = repoGraph('app', { repro: '1970', nodate: null, a: 10, b: 11 });
    const plan = planCleanup(
      g,
      { rules: [{ keepNewest: 3 }, { keepYoungerThan: '365d' }] },
      { now: NOW },
    );
    // nodate and repro tie as unknown; natural name order makes repro the newer of them.
    expect(kept(plan)).toEqual(['app:a', 'app:b', 'app:repro']);
    expect(plan.warnings.map((w) => [w.code, w.id])).toEqual([
      ['UNKNOWN_DATE', 'app@sha256:app0'],
      ['UNKNOWN_DATE', 'app@sha256:app1'],
    ]);
    expect(plan.warnings[0]?.message).toMatch(/1970-01-01T00:00:00Z, before 2013-03-20/);
    expect(plan.warnings[1]?.message).toMatch(/has no created date/);
    const young = planCleanup(g, { rules: [{ keepYoungerThan: '100000d' }] }, { now: NOW });
    expect(kept(young)).toEqual(['app:a', 'app:b']);
  });

  it('an index without a date of its own takes its newest platform manifest date', () => {
    const g = new ImageGraph();
    g.addImage('app@sha256:idx').addImage('app@sha256:amd', { created: day(20) });
    g.addImage('app@sha256:arm', { created: day(21) });
    g.addChild('app@sha256:idx', 'app@sha256:amd').addChild('app@sha256:idx', 'app@sha256:arm');
    g.addImage('app@sha256:older', { created: day(10) });
    g.setTag('app:multi', 'app@sha256:idx').setTag('app:single', 'app@sha256:older');
    const plan = planCleanup(g, { rules: [{ keepNewest: 1 }] });
    expect(kept(plan)).toEqual(['app:multi']);
    expect(plan.warnings).toEqual([]);
  });

  it('policies that never read dates warn about none', () => {
    const g = repoGraph('app', { repro: '1970' });
    expect(planCleanup(g, { rules: [{ keepTags: ['*'] }] }).warnings).toEqual([]);
  });
});

describe('referrers', () => {
  function withAttachments(): ImageGraph {
    const g = repoGraph('app', { latest: 1 });
    g.addImage('app@sha256:cache', { artifactType: 'application/vnd.buildkit.cache.v0+json' });
    g.addImage('app@sha256:sig', {
      artifactType: 'application/vnd.dev.cosign.artifact.sig.v1+json',
    });
    g.addReferrer('app@sha256:cache', 'app@sha256:app0');
    g.addReferrer('app@sha256:sig', 'app@sha256:app0');
    return g;
  }

  it('follow-subject (default) keeps attachments with their subject', () => {
    const plan = planCleanup(withAttachments(), { rules: [{ keepTags: ['latest'] }] });
    expect(plan.delete).toEqual([]);
    const explicit = planCleanup(withAttachments(), {
      rules: [{ keepTags: ['latest'] }],
      referrers: 'follow-subject',
    });
    expect(explicit.delete).toEqual([]);
  });

  it('a list of artifactType patterns deletes those referrers although the subject stays', () => {
    const g = withAttachments();
    const plan = planCleanup(g, {
      rules: [{ keepTags: ['latest'] }],
      referrers: ['application/vnd.buildkit.cache*'],
    });
    expect(plan.delete.map((op) => op.image)).toEqual(['app@sha256:cache']);
    const regex = planCleanup(g, { rules: [{ keepTags: ['latest'] }], referrers: ['/cosign/'] });
    expect(regex.delete.map((op) => op.image)).toEqual(['app@sha256:sig']);
    applyPlanToGraph(g, plan);
  });
});

describe('safety caps', () => {
  const g = repoGraph('app', { a: 1, b: 2, c: 3, d: 4 });
  repoGraph('other', { x: 1, y: 2, z: 3, w: 4 }, g);

  it('maxDeletions refuses a plan that deletes more, saying which cap, the numbers and what to do', () => {
    const plan = planCleanup(g, {
      rules: [{ repositories: ['app'], keepNewest: 1 }],
      maxDeletions: 2,
    });
    expect(plan.delete).toHaveLength(3);
    expect(plan.refused?.reason).toBe(
      'maxDeletions: the plan deletes 3 images, more than the cap of 2; check the plan (explain), narrow the rules, or raise maxDeletions to 3 if this deletion is meant',
    );
    const ok = planCleanup(g, {
      rules: [{ repositories: ['app'], keepNewest: 1 }],
      maxDeletions: 3,
    });
    expect(ok.refused).toBeNull();
  });

  it('maxDeletionRatio counts only images in scope', () => {
    const policy: RetentionPolicy = {
      rules: [{ repositories: ['app'], keepNewest: 2 }],
      maxDeletionRatio: 0.4,
    };
    // 2 of the 4 images in scope (other/ is out of scope): 50% > 40%.
    const plan = planCleanup(g, policy);
    expect(plan.refused?.reason).toBe(
      'maxDeletionRatio: the plan deletes 2 of 4 images in scope (50%), more than the cap of 0.4 (40%); check the plan (explain), narrow the rules, or raise maxDeletionRatio to 0.5 if this deletion is meant',
    );
    expect(planCleanup(g, { ...policy, maxDeletionRatio: 0.5 }).refused).toBeNull();
  });

  it('both caps exceeded: both are named', () => {
    const plan = planCleanup(g, {
      rules: [{ keepTags: [] }],
      maxDeletions: 0,
      maxDeletionRatio: 0,
    });
    expect(plan.refused?.reason).toMatch(
      /^maxDeletions: .*; maxDeletionRatio: the plan deletes 8 of 8/,
    );
  });
});

describe('keep-list form', () => {
  it('fills tagDecisions and keeps its explain lines', () => {
    const g = new ImageGraph();
    g.addImage('A').addImage('B').addParent('B', 'A');
    g.setTag('v1', 'A').setTag('v2', 'B');
    const plan = planCleanup(g, ['v2']);
    expect(plan.tagDecisions).toEqual([
      { tag: 'v1', kept: false, rule: null, reason: 'not in keepTags' },
      { tag: 'v2', kept: true, rule: null, reason: 'listed in keepTags' },
    ]);
    expect(explain(plan, 'v2')).toBe('kept tag: v2 → B');
    expect(explain(plan, 'v1')).toBe('untagged: v1 is removed; A stays (v2 → B → A (parent))');
    expect(planCleanup(g, new Set(['v2'])).tagDecisions).toEqual(plan.tagDecisions);
    expect(planCleanup(g, (t) => t === 'v2').tagDecisions).toEqual(plan.tagDecisions);
  });

  it('a plain object is read as a policy and validated', () => {
    const g = repoGraph('app', { a: 1 });
    expect(() => planCleanup(g, {} as RetentionPolicy)).toThrow('rules: is required');
  });
});

describe('unknown dates of lone tags', () => {
  it('are listed too, although ranking a single tag needs no comparison', () => {
    const g = repoGraph('app', { only: '1970' });
    const plan = planCleanup(g, { rules: [{ keepNewest: 1 }] });
    expect(kept(plan)).toEqual(['app:only']);
    expect(plan.warnings.map((w) => [w.code, w.id])).toEqual([['UNKNOWN_DATE', 'app@sha256:app0']]);
  });
});

describe('semver: tags that are not versions rank oldest', () => {
  it('keepNewest 3 keeps the three highest versions and never spends a slot on latest', () => {
    const g = new ImageGraph();
    ['v1.0.0', 'v1.2.0', 'v1.10.0', 'v2.0.0-rc.1', 'v2.0.0', 'latest'].forEach((t, i) => {
      g.addImage(`r@sha256:${i}`).setTag(`r:${t}`, `r@sha256:${i}`);
    });
    const decisions = selectTags(g, { rules: [{ orderBy: 'semver', keepNewest: 3 }] });
    expect(decisions.filter((d) => d.kept).map((d) => d.tag)).toEqual([
      'r:v1.10.0',
      'r:v2.0.0',
      'r:v2.0.0-rc.1',
    ]);
  });

  it('non-version tags rank before every version, among themselves in natural order', () => {
    const g = new ImageGraph();
    ['main-10', 'v0.0.1', 'main-9', 'latest'].forEach((t, i) => {
      g.addImage(`r@sha256:${i}`).setTag(`r:${t}`, `r@sha256:${i}`);
    });
    const decisions = selectTags(g, { rules: [{ orderBy: 'semver', keepNewest: 4 }] });
    const rankOf = (tag: string) =>
      Number(/rank (\d+)/.exec(decisions.find((d) => d.tag === tag)?.reason ?? '')?.[1]);
    expect(['r:v0.0.1', 'r:main-10', 'r:main-9', 'r:latest'].map(rankOf)).toEqual([1, 2, 3, 4]);
  });
});

describe('keepNewest counts images, not tags', () => {
  it('an image with two matching tags uses one slot, and both of its tags stay', () => {
    const g = new ImageGraph();
    g.addImage('app@sha256:41', { created: day(4) });
    g.addImage('app@sha256:40', { created: day(3) });
    g.addImage('app@sha256:39', { created: day(2) });
    g.setTag('app:main-41', 'app@sha256:41').setTag('app:main-latest', 'app@sha256:41');
    g.setTag('app:main-40', 'app@sha256:40').setTag('app:main-39', 'app@sha256:39');
    const plan = planCleanup(g, { rules: [{ tags: ['main-*'], keepNewest: 2 }] });
    expect(kept(plan)).toEqual(['app:main-40', 'app:main-41', 'app:main-latest']);
    expect(plan.delete.map((op) => op.image)).toEqual(['app@sha256:39']);
    expect(explain(plan, 'app:main-latest')).toBe(
      'kept: rule 1 keepNewest 2 (rank 1 of 3 images in app)',
    );
  });

  it('an image ranks by its best matching tag in the group', () => {
    const g = new ImageGraph();
    g.addImage('app@sha256:a').addImage('app@sha256:b');
    // a carries the lowest and the highest version; b the middle one.
    g.setTag('app:1.0.0', 'app@sha256:a').setTag('app:3.0.0', 'app@sha256:a');
    g.setTag('app:2.0.0', 'app@sha256:b');
    const plan = planCleanup(g, { rules: [{ orderBy: 'semver', keepNewest: 1 }] });
    expect(kept(plan)).toEqual(['app:1.0.0', 'app:3.0.0']);
    expect(plan.delete.map((op) => op.image)).toEqual(['app@sha256:b']);
  });
});

describe('untagged.keepNewest', () => {
  /** Per repository: untagged images created on days 1..4, one without a date, one tagged image. */
  function untaggedGraph(): ImageGraph {
    const g = new ImageGraph();
    for (const repo of ['a', 'b']) {
      g.addImage(`${repo}@sha256:tagged`, { created: day(20) }).setTag(
        `${repo}:latest`,
        `${repo}@sha256:tagged`,
      );
      for (const d of [1, 2, 3, 4]) g.addImage(`${repo}@sha256:u${d}`, { created: day(d) });
      g.addImage(`${repo}@sha256:undated`);
    }
    // An untagged index with its two platform manifests: one slot, and its children follow it.
    g.addImage('a@sha256:idx').addImage('a@sha256:amd', { created: day(5) });
    g.addImage('a@sha256:arm', { created: day(5) });
    g.addChild('a@sha256:idx', 'a@sha256:amd').addChild('a@sha256:idx', 'a@sha256:arm');
    return g;
  }

  it('keeps the N newest untagged images of each repository by created; undated ones rank oldest', () => {
    const plan = planCleanup(untaggedGraph(), {
      rules: [{ keepTags: ['latest'] }],
      untagged: { keepNewest: 2 },
    });
    const gone = plan.delete.map((op) => op.image).sort();
    expect(gone).toEqual([
      'a@sha256:u1',
      'a@sha256:u2',
      'a@sha256:u3',
      'a@sha256:undated',
      'b@sha256:u1',
      'b@sha256:u2',
      'b@sha256:undated',
    ]);
    expect(explain(plan, 'a@sha256:idx')).toBe(
      'kept: untagged keepNewest 2 (rank 1 of 6 in a) → a@sha256:idx',
    );
    expect(explain(plan, 'a@sha256:arm')).toMatch(/^kept: untagged keepNewest 2 .*\(child\)$/);
    expect(explain(plan, 'b@sha256:u3')).toBe(
      'kept: untagged keepNewest 2 (rank 2 of 5 in b) → b@sha256:u3',
    );
    expect(plan.warnings.map((w) => `${w.code} ${w.id}`)).toEqual([
      'UNKNOWN_DATE a@sha256:undated',
      'UNKNOWN_DATE b@sha256:undated',
    ]);
  });

  it('keeps on its own beside the grace period (either one keeps)', () => {
    const plan = planCleanup(
      untaggedGraph(),
      { rules: [{ keepTags: ['latest'] }], untagged: { keepNewest: 1, keepYoungerThan: '28d' } },
      { now: NOW },
    );
    // Grace keeps days 3, 4 (and the index, day 5); keepNewest 1 keeps the index in a, u4 in b.
    expect(plan.delete.map((op) => op.image).sort()).toEqual([
      'a@sha256:u1',
      'a@sha256:u2',
      'a@sha256:undated',
      'b@sha256:u1',
      'b@sha256:u2',
      'b@sha256:undated',
    ]);
  });

  it('is validated: a positive integer', () => {
    expect(() =>
      planCleanup(untaggedGraph(), { rules: [{ keepTags: [] }], untagged: { keepNewest: 0 } }),
    ).toThrow('untagged.keepNewest: must be a positive integer, got 0');
  });
});
