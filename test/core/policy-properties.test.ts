import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ImageGraph,
  planCleanup,
  type RetentionPolicy,
  type RetentionRule,
  repositoryOfImage,
  repositoryOfTag,
} from '../../src/index.js';

const REPOS = ['a', 'a/b', 'c'] as const;
const NOW = Date.UTC(2024, 5, 30);

interface Spec {
  images: Array<{ repo: number; ageDays: number | null }>;
  edges: Array<{ from: number; to: number; kind: 'parent' | 'child' | 'referrer' }>;
  tags: Array<{ name: string; image: number }>;
}

const specArb: fc.Arbitrary<Spec> = fc.integer({ min: 1, max: 16 }).chain((n) =>
  fc.record({
    images: fc.array(
      fc.record({ repo: fc.nat(REPOS.length - 1), ageDays: fc.option(fc.nat(60), { nil: null }) }),
      { minLength: n, maxLength: n },
    ),
    edges: fc.array(
      fc
        .record({
          a: fc.nat(n - 1),
          b: fc.nat(n - 1),
          kind: fc.constantFrom('parent' as const, 'child' as const, 'referrer' as const),
        })
        .map(({ a, b, kind }) => ({ from: Math.max(a, b), to: Math.min(a, b), kind })),
      { maxLength: n * 2 },
    ),
    tags: fc.uniqueArray(
      fc.record({
        name: fc.constantFrom(
          'latest',
          'main-1',
          'main-2',
          'main-10',
          'v1.0.0',
          'v1.1.0-rc.1',
          'dev',
        ),
        image: fc.nat(n - 1),
      }),
      { selector: (t) => `${t.name}@${t.image}`, maxLength: n + 4 },
    ),
  }),
);

/** Images stay within their repository's edges; tags are `repo:name` of their image's repository. */
function build(spec: Spec): ImageGraph {
  const g = new ImageGraph();
  const id = (i: number) => `${REPOS[spec.images[i]?.repo ?? 0]}@sha256:${i}`;
  spec.images.forEach((img, i) => {
    const created =
      img.ageDays === null
        ? '1970-01-01T00:00:00Z'
        : new Date(NOW - img.ageDays * 86_400_000).toISOString();
    g.addImage(id(i), { created });
  });
  const seen = new Set<string>();
  for (const e of spec.edges) {
    const key = `${Math.min(e.from, e.to)}-${Math.max(e.from, e.to)}`;
    if (e.from === e.to || seen.has(key)) continue;
    seen.add(key);
    if (e.kind === 'parent') g.addParent(id(e.from), id(e.to));
    else if (e.kind === 'child') g.addChild(id(e.from), id(e.to));
    else g.addReferrer(id(e.from), id(e.to));
  }
  for (const t of spec.tags)
    g.setTag(`${REPOS[spec.images[t.image]?.repo ?? 0]}:${t.name}`, id(t.image));
  return g;
}

const ruleArb: fc.Arbitrary<RetentionRule> = fc
  .record(
    {
      repositories: fc.constantFrom<string[]>(['a'], ['a/**'], ['**'], ['c', 'a/*']),
      tags: fc.constantFrom<string[]>(['main-*'], ['/^v/'], ['*']),
      // Patterns only: a literal naming no tag would be refused (see the literal properties below).
      keepTags: fc.constantFrom(['/^latest$/'], ['v*'], [] as string[]),
      keepNewest: fc.integer({ min: 1, max: 3 }),
      groupBy: fc.constant('^(.*)-\\d+$'),
      orderBy: fc.constantFrom('created' as const, 'semver' as const, 'name' as const),
      keepYoungerThan: fc.constantFrom('1d', '10d', '30d'),
    },
    { requiredKeys: [] },
  )
  .map((generated) => {
    const rule = generated as RetentionRule;
    const out: RetentionRule = { ...rule };
    if (out.keepNewest === undefined) {
      delete out.groupBy;
      delete out.orderBy;
    }
    if (
      out.keepTags === undefined &&
      out.keepNewest === undefined &&
      out.keepYoungerThan === undefined
    )
      out.keepTags = [];
    return out;
  });

const policyArb: fc.Arbitrary<RetentionPolicy> = fc.record(
  {
    rules: fc.array(ruleArb, { minLength: 1, maxLength: 3 }),
    protect: fc.record({ tags: fc.constantFrom(['de?'], [] as string[]) }),
    untagged: fc.constantFrom(
      {},
      { keepYoungerThan: '7d' },
      { keepNewest: 1 },
      { keepNewest: 2, keepYoungerThan: '7d' },
    ),
    referrers: fc.constantFrom('follow-subject' as const, ['*']),
  },
  { requiredKeys: ['rules'] },
);

const deleted = (g: ImageGraph, p: RetentionPolicy) =>
  new Set(planCleanup(g, p, { now: NOW }).delete.map((op) => op.image));

describe('policy properties', () => {
  it('adding a rule deletes nothing new except what a repository it brings into scope held or kept', () => {
    fc.assert(
      fc.property(specArb, policyArb, ruleArb, fc.nat(3), (spec, policy, extra, at) => {
        const g = build(spec);
        const before = planCleanup(g, policy, { now: NOW });
        const gone = new Set(before.delete.map((op) => op.image));
        const rules = [...policy.rules];
        rules.splice(at % (rules.length + 1), 0, extra);
        const after = planCleanup(g, { ...policy, rules }, { now: NOW });
        // A repository is out of scope before when its images were all kept for that reason.
        const outOfScopeBefore = new Set([
          ...before.keep
            .filter((k) => k.note?.endsWith('is out of policy scope'))
            .map((k) => repositoryOfImage(k.image)),
          ...(before.tagDecisions ?? [])
            .filter((d) => d.reason === 'out of policy scope')
            .map((d) => repositoryOfTag(d.tag)),
        ]);
        const keptBefore = new Map(before.keep.map((k) => [k.image, k]));
        for (const op of after.delete) {
          if (gone.has(op.image)) continue;
          // Newly deleted: it must lie in a repository the extra rule brought into scope, or have
          // been kept only from one (a cross-repository parent of an image there).
          const kept = keptBefore.get(op.image);
          const root = kept?.path[0] as string;
          const newlyScoped = [op.image, root].some((x) =>
            outOfScopeBefore.has(repositoryOfImage(x)),
          );
          // Or it held one of the untagged.keepNewest slots: an image the newly scoped repository
          // kept before (a parent, say) now competes for those slots as untagged, and may rank
          // newer; keepNewest N keeps the N newest, so the one it displaces goes.
          const displaced = kept?.note?.startsWith('untagged keepNewest') === true;
          expect(newlyScoped || displaced).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('adding a rule scoped like an existing one never deletes more (strict subset form)', () => {
    fc.assert(
      fc.property(specArb, policyArb, ruleArb, (spec, policy, extra) => {
        const g = build(spec);
        const first = policy.rules[0] as RetentionRule;
        const scoped: RetentionRule = { ...extra };
        if (first.repositories) scoped.repositories = first.repositories;
        else delete scoped.repositories;
        const before = deleted(g, policy);
        const after = deleted(g, { ...policy, rules: [...policy.rules, scoped] });
        for (const image of after) expect(before.has(image)).toBe(true);
        expect(after.size).toBeLessThanOrEqual(before.size);
      }),
      { numRuns: 300 },
    );
  });

  it('a policy plan never deletes an image a kept tag reaches, nor a kept tag itself', () => {
    fc.assert(
      fc.property(specArb, policyArb, (spec, policy) => {
        const g = build(spec);
        const plan = planCleanup(g, policy, { now: NOW });
        const gone = new Set(plan.delete.map((op) => op.image));
        const keptTags = (plan.tagDecisions ?? []).filter((d) => d.kept).map((d) => d.tag);
        expect(plan.keptTags).toEqual(keptTags);
        // Independent reachability: parent/child edges forward, referrer edges both ways,
        // except referrers whose subject alone keeps them when referrers are detached.
        const detach = Array.isArray(policy.referrers);
        const seen = new Set<string>();
        const stack = keptTags.map((t) => g.tagTarget(t) as string);
        while (stack.length > 0) {
          const x = stack.pop() as string;
          if (seen.has(x)) continue;
          seen.add(x);
          stack.push(
            ...g.targetsOf(x, 'parent'),
            ...g.targetsOf(x, 'child'),
            ...g.targetsOf(x, 'referrer'),
          );
          if (!detach) stack.push(...g.sourcesOf(x, 'referrer'));
        }
        for (const image of seen) expect(gone.has(image)).toBe(false);
        for (const tag of keptTags)
          expect(plan.delete.some((op) => op.tags.includes(tag))).toBe(false);
        expect(plan.untag.some((op) => keptTags.includes(op.tag))).toBe(false);
      }),
      { numRuns: 300 },
    );
  });

  it('plans do not depend on the order tags and images were added', () => {
    fc.assert(
      fc.property(specArb, policyArb, (spec, policy) => {
        // One entry per tag id, so that reversing does not change where a tag ends up.
        const repoOf = (t: Spec['tags'][number]) => spec.images[t.image]?.repo;
        const unique = [...new Map(spec.tags.map((t) => [`${repoOf(t)}:${t.name}`, t])).values()];
        const forward = build({ ...spec, tags: unique });
        const reversed = build({ ...spec, tags: [...unique].reverse() });
        expect(planCleanup(reversed, policy, { now: NOW })).toEqual(
          planCleanup(forward, policy, { now: NOW }),
        );
      }),
      { numRuns: 100 },
    );
  });
});

/** Which of REPOS each generated `repositories` list covers, written out by hand. */
const COVERS: Record<string, readonly string[]> = {
  a: ['a'],
  'a/**': ['a/b'],
  '**': ['a', 'a/b', 'c'],
  'c,a/*': ['c', 'a/b'],
};
/** Which names each generated `tags` selection takes, written out by hand. */
const SELECTS: Record<string, (name: string) => boolean> = {
  'main-*': (n) => n.startsWith('main-'),
  '/^v/': (n) => n.startsWith('v'),
  '*': () => true,
};

const coveredBy = (rule: RetentionRule) => COVERS[(rule.repositories ?? ['**']).join(',')] ?? [];
const selectedBy = (rule: RetentionRule, name: string) =>
  (SELECTS[(rule.tags ?? ['*']).join(',')] as (n: string) => boolean)(name);
const repoOfSpecTag = (spec: Spec, t: Spec['tags'][number]) =>
  REPOS[spec.images[t.image]?.repo ?? 0] as string;

describe('literal keep entries', () => {
  it('adding a literal keep entry that names an existing tag in its rule scope never increases the deletions; one that names none is refused or, in a rule covering nothing, changes nothing', () => {
    fc.assert(
      fc.property(specArb, policyArb, fc.nat(), fc.nat(), (spec, policy, at, pick) => {
        fc.pre(spec.tags.length > 0);
        const g = build(spec);
        const r = at % policy.rules.length;
        const rule = policy.rules[r] as RetentionRule;
        const name = (spec.tags[pick % spec.tags.length] as Spec['tags'][number]).name;
        const keepTags = [...(rule.keepTags ?? []), name];
        const rules = policy.rules.map((x, i) => (i === r ? { ...x, keepTags } : x));
        const before = deleted(g, policy);
        const covered = coveredBy(rule).filter((repo) =>
          g.images().some((image) => repositoryOfImage(image) === repo),
        );
        const inScope = spec.tags.some(
          (t) =>
            t.name === name && covered.includes(repoOfSpecTag(spec, t)) && selectedBy(rule, name),
        );
        if (inScope || covered.length === 0) {
          const after = deleted(g, { ...policy, rules });
          for (const image of after) expect(before.has(image)).toBe(true);
          if (!inScope) expect(after).toEqual(before);
        } else {
          expect(() => deleted(g, { ...policy, rules })).toThrow(
            expect.objectContaining({ path: `rules[${r}].keepTags[${keepTags.length - 1}]` }),
          );
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('keepNewest counts images', () => {
  it('keepNewest N keeps at most N images per repository, every selected tag of each kept image, and as many images as it can', () => {
    fc.assert(
      fc.property(
        specArb,
        fc.integer({ min: 1, max: 3 }),
        fc.constantFrom('created' as const, 'semver' as const, 'name' as const),
        fc.constantFrom<string[] | undefined>(undefined, ['main-*'], ['/^v/']),
        (spec, n, orderBy, tags) => {
          const g = build(spec);
          const rule: RetentionRule = { keepNewest: n, orderBy, ...(tags ? { tags } : {}) };
          const plan = planCleanup(g, { rules: [rule] }, { now: NOW });
          const keptTags = new Set(
            (plan.tagDecisions ?? []).filter((d) => d.kept).map((d) => d.tag),
          );
          for (const repo of REPOS) {
            const selected = g
              .tags()
              .filter(
                (t) => repositoryOfTag(t) === repo && selectedBy(rule, t.slice(repo.length + 1)),
              );
            const images = new Set(selected.map((t) => g.tagTarget(t) as string));
            const keptImages = new Set(
              selected.filter((t) => keptTags.has(t)).map((t) => g.tagTarget(t) as string),
            );
            expect(keptImages.size).toBe(Math.min(n, images.size));
            for (const t of selected)
              expect(keptTags.has(t)).toBe(keptImages.has(g.tagTarget(t) as string));
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('under semver, an image with no version tag is kept by keepNewest only when every versioned image is', () => {
    const isVersion = (name: string) => /^v?\d+\.\d+\.\d+/.test(name);
    fc.assert(
      fc.property(specArb, fc.integer({ min: 1, max: 4 }), (spec, n) => {
        const g = build(spec);
        const plan = planCleanup(g, { rules: [{ keepNewest: n, orderBy: 'semver' }] });
        const keptTags = new Set((plan.tagDecisions ?? []).filter((d) => d.kept).map((d) => d.tag));
        for (const repo of REPOS) {
          const tagsOf = new Map<string, string[]>();
          for (const t of g.tags().filter((x) => repositoryOfTag(x) === repo)) {
            const image = g.tagTarget(t) as string;
            tagsOf.set(image, [...(tagsOf.get(image) ?? []), t]);
          }
          const versioned = [...tagsOf].filter(([, ts]) =>
            ts.some((t) => isVersion(t.slice(repo.length + 1))),
          );
          const plainKept = [...tagsOf].some(
            ([, ts]) =>
              !ts.some((t) => isVersion(t.slice(repo.length + 1))) &&
              ts.some((t) => keptTags.has(t)),
          );
          if (plainKept)
            for (const [, ts] of versioned) expect(keptTags.has(ts[0] as string)).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('untagged.keepNewest', () => {
  it('adding it never deletes more, and each repository keeps at most N more untagged roots than without it', () => {
    fc.assert(
      fc.property(specArb, policyArb, fc.integer({ min: 1, max: 3 }), (spec, policy, n) => {
        const g = build(spec);
        const base: RetentionPolicy = { ...policy, untagged: {} };
        const before = deleted(g, base);
        const plan = planCleanup(g, { ...base, untagged: { keepNewest: n } }, { now: NOW });
        const after = new Set(plan.delete.map((op) => op.image));
        for (const image of after) expect(before.has(image)).toBe(true);
        const roots = plan.keep.filter(
          (k) => k.path.length === 1 && k.note?.startsWith('untagged keepNewest'),
        );
        for (const repo of REPOS) {
          const here = roots.filter((k) => repositoryOfImage(k.image) === repo);
          expect(here.length).toBeLessThanOrEqual(n);
          for (const k of here) expect(before.has(k.image)).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });
});
