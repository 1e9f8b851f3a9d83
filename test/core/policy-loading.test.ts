import { readdirSync, readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import {
  ImageGraph,
  InvalidPolicyError,
  loadPolicy,
  planCleanup,
  retentionPolicySchema,
  validatePolicy,
} from '../../src/index.js';

function problem(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidPolicyError);
    expect((error as InvalidPolicyError).code).toBe('INVALID_POLICY');
    return (error as Error).message;
  }
  throw new Error('expected an InvalidPolicyError');
}

describe('loading', () => {
  it('YAML and JSON load to the same policy', () => {
    const yaml = `
rules:
  - repositories: ["app/**"]
    keepTags: [latest, "/^v\\\\d+/"]
  - keepNewest: 10
    groupBy: '^(.*)-\\d+$'
    orderBy: name
untagged: { keepYoungerThan: 7d }
maxDeletionRatio: 0.5
`;
    const json = JSON.stringify({
      rules: [
        { repositories: ['app/**'], keepTags: ['latest', '/^v\\d+/'] },
        { keepNewest: 10, groupBy: '^(.*)-\\d+$', orderBy: 'name' },
      ],
      untagged: { keepYoungerThan: '7d' },
      maxDeletionRatio: 0.5,
    });
    expect(loadPolicy(yaml)).toEqual(loadPolicy(json));
    expect(loadPolicy(json).rules[1]).toEqual({
      keepNewest: 10,
      groupBy: '^(.*)-\\d+$',
      orderBy: 'name',
    });
  });

  it('syntax errors, duplicate keys and empty text are typed errors with a line', () => {
    expect(problem(() => loadPolicy('rules: [\n  {keepNewest: 1'))).toMatch(
      /^policy: not valid YAML or JSON at line \d+, column \d+/,
    );
    expect(problem(() => loadPolicy('rules: []\nrules: []'))).toMatch(
      /^policy: not valid YAML or JSON at line 2/,
    );
    expect(problem(() => loadPolicy(''))).toBe('policy: is empty; a policy needs at least `rules`');
  });
});

describe('validation names the field path and the problem', () => {
  const cases: Array<[unknown, string]> = [
    [
      { rules: [{ keepTags: [] }, { keepNewest: -3 }] },
      'rules[1].keepNewest: must be a positive integer, got -3',
    ],
    [{ rules: [{ keepNewest: 1.5 }] }, 'rules[0].keepNewest: must be a positive integer, got 1.5'],
    [
      { rules: [{ keepNewest: 2, keepnewest: 3 }] },
      'rules[0].keepnewest: unknown key; allowed here: description, repositories, tags, keepTags, dropTags, keepNewest, groupBy, orderBy, keepYoungerThan',
    ],
    [
      { rules: [{ keepTags: [] }], extra: 1 },
      'extra: unknown key; allowed here: $schema, age, rules, protect, untagged, referrers, maxDeletions, maxDeletionRatio',
    ],
    [
      { rules: [] },
      'rules: must list at least one rule (with no rule, no repository would be in scope)',
    ],
    [{}, 'rules: is required: list at least one rule'],
    [[], 'policy: must be an object, got a list'],
    [{ rules: [{ keepTags: ['/[a-/'] }] }, 'rules[0].keepTags[0]: invalid regex "[a-": '],
    [
      { rules: [{ keepTags: ['/a/g'] }] },
      'rules[0].keepTags[0]: regex flags may only be i, m, s, u, got "g"',
    ],
    [{ rules: [{ keepTags: ['app:latest'] }] }, 'rules[0].keepTags[0]: must be a tag glob'],
    [
      { rules: [{ keepTags: [1] }] },
      'rules[0].keepTags[0]: must be a string, got 1 (quote it in YAML)',
    ],
    [{ rules: [{ keepNewest: 1, groupBy: '(' }] }, 'rules[0].groupBy: invalid regex "("'],
    [
      { rules: [{ keepNewest: 1, groupBy: '^main-\\d+$' }] },
      'rules[0].groupBy: has no capture group',
    ],
    [
      { rules: [{ keepNewest: 1, groupBy: '/^(?:main)-/' }] },
      'rules[0].groupBy: has no capture group',
    ],
    [
      { rules: [{ keepTags: [], groupBy: '(.*)' }] },
      'rules[0].groupBy: only applies to keepNewest',
    ],
    [
      { rules: [{ keepNewest: 1, orderBy: 'date' }] },
      'rules[0].orderBy: must be one of created, semver, name, got "date"',
    ],
    [
      { rules: [{ keepYoungerThan: '30days' }] },
      'rules[0].keepYoungerThan: must be a duration such as "30d"',
    ],
    [
      { rules: [{ keepYoungerThan: '0d' }] },
      'rules[0].keepYoungerThan: must be a positive duration, got "0d"',
    ],
    [
      { rules: [{ repositories: ['team**'], keepTags: [] }] },
      'rules[0].repositories[0]: "**" must be a whole path segment',
    ],
    [
      { rules: [{ repositories: ['Team/*'], keepTags: [] }] },
      'rules[0].repositories[0]: must be a repository glob',
    ],
    [{ rules: [{ repositories: [], keepTags: [] }] }, 'rules[0].repositories: must not be empty'],
    [
      { rules: [{ repositories: ['a'] }] },
      'rules[0]: keeps nothing: set keepTags, keepNewest, keepYoungerThan or dropTags',
    ],
    [
      { rules: [{ keepTags: [] }], protect: { tag: [] } },
      'protect.tag: unknown key; allowed here: tags, images',
    ],
    [
      { rules: [{ keepTags: [] }], untagged: { keepYoungerThan: 7 } },
      'untagged.keepYoungerThan: must be a string, got 7',
    ],
    [
      { rules: [{ keepTags: [] }], referrers: 'delete' },
      'referrers: must be "follow-subject" or a list of artifactType patterns, got "delete"',
    ],
    [
      { rules: [{ keepTags: [] }], maxDeletions: -1 },
      'maxDeletions: must be a non-negative integer, got -1',
    ],
    [
      { rules: [{ keepTags: [] }], maxDeletionRatio: 50 },
      'maxDeletionRatio: must be a number from 0 to 1 (a fraction), got 50',
    ],
  ];
  it.each(cases)('%j', (value, expected) => {
    expect(problem(() => validatePolicy(value))).toContain(expected);
    const message = problem(() => validatePolicy(value));
    expect(message.startsWith(expected.split(':')[0] as string)).toBe(true);
  });

  it('the error carries the path and the problem separately', () => {
    try {
      loadPolicy('rules:\n  - keepTags: []\n  - keepNewest: -3\n');
      expect.unreachable();
    } catch (error) {
      expect((error as InvalidPolicyError).path).toBe('rules[1].keepNewest');
      expect((error as InvalidPolicyError).problem).toBe('must be a positive integer, got -3');
    }
  });
});

/**
 * A maintained draft 2020-12 validator in strict mode, so the schema is also checked for keywords
 * a validator would ignore (a typo such as `minimun` fails compilation instead of accepting all).
 * `strictRequired` is off: the rule's `anyOf` branches list `required` keys whose `properties`
 * sit on the rule itself, which is valid 2020-12.
 */
const ajv = new Ajv2020({ strict: true, strictRequired: false, allErrors: true });
const schemaAccepts = ajv.compile(retentionPolicySchema);

const EXAMPLES = new URL('../../examples/policies/', import.meta.url);
const exampleFiles = readdirSync(EXAMPLES)
  .filter((f) => f.endsWith('.yaml'))
  .sort();

describe('JSON Schema', () => {
  it('is plain JSON (survives a JSON round trip) and declares its draft', () => {
    const text = JSON.stringify(retentionPolicySchema);
    expect(JSON.parse(text)).toEqual(retentionPolicySchema);
    expect(retentionPolicySchema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
  });

  it('accepts every example, as the validator does', () => {
    expect(exampleFiles.length).toBeGreaterThanOrEqual(3);
    for (const file of exampleFiles) {
      const policy = loadPolicy(readFileSync(new URL(file, EXAMPLES), 'utf8'));
      expect(schemaAccepts(JSON.parse(JSON.stringify(policy))), file).toBe(true);
    }
  });

  it('rejects the structurally invalid policies the validator rejects', () => {
    const bad: unknown[] = [
      {},
      { rules: [] },
      { rules: [{ keepNewest: -3 }] },
      { rules: [{ keepNewest: 2, keepnewest: 3 }] },
      { rules: [{ repositories: ['a'] }] },
      { rules: [{ keepNewest: 1, orderBy: 'date' }] },
      { rules: [{ keepNewest: 1, groupBy: '^main-\\d+$' }] },
      { rules: [{ keepYoungerThan: '30days' }] },
      { rules: [{ keepTags: [1] }] },
      { rules: [{ keepTags: [] }], referrers: 'delete' },
      { rules: [{ keepTags: [] }], maxDeletionRatio: 2 },
      { rules: [{ keepTags: [] }], untagged: { keepNewest: 0 } },
      { rules: [{ keepTags: [] }], extra: true },
      { rules: [{ keepTags: [] }], age: 'modified' },
      { rules: [{ dropTags: [] }] },
      { rules: [{ dropTags: ['pr-*'], keepNewest: 1 }] },
      { rules: [{ dropTags: ['pr-*'], keepTags: ['latest'] }] },
    ];
    for (const value of bad) {
      expect(() => validatePolicy(value)).toThrow(InvalidPolicyError);
      expect(schemaAccepts(value), JSON.stringify(value)).toBe(false);
    }
  });
});

describe('the examples plan as their comments say', () => {
  const load = (name: string) => loadPolicy(readFileSync(new URL(name, EXAMPLES), 'utf8'));
  const NOW = '2024-06-30T00:00:00Z';

  it('keep-last-n-per-branch.yaml keeps 10 builds per branch plus latest, and leaves other repos alone', () => {
    const g = new ImageGraph();
    for (const branch of ['main', 'feature-x']) {
      for (let n = 1; n <= 12; n++) {
        const id = `team/api@sha256:${branch}${n}`;
        g.addImage(id).setTag(`team/api:${branch}-${n}`, id);
      }
    }
    g.setTag('team/api:latest', 'team/api@sha256:main1');
    g.addImage('other@sha256:1').setTag('other:main-1', 'other@sha256:1');
    const plan = planCleanup(g, load('keep-last-n-per-branch.yaml'));
    expect(plan.refused).toBeNull();
    expect(plan.delete.map((op) => op.image).sort()).toEqual([
      'team/api@sha256:feature-x1',
      'team/api@sha256:feature-x2',
      'team/api@sha256:main2',
    ]);
    expect(plan.untag).toEqual([{ tag: 'team/api:main-1', image: 'team/api@sha256:main1' }]);
  });

  it('keep-releases-forever.yaml keeps releases, the 5 newest rcs, young tags and latest', () => {
    const g = new ImageGraph();
    const tags: Record<string, string> = {
      '1.0.0': '2015-01-01',
      'v1.1.0': '2016-01-01',
      latest: '2016-01-01',
      old: '2024-01-01',
      fresh: '2024-06-20',
    };
    for (let i = 1; i <= 7; i++) tags[`2.0.0-rc.${i}`] = '2020-01-01';
    let k = 0;
    for (const [tag, date] of Object.entries(tags)) {
      const id = `app@sha256:${k++}`;
      g.addImage(id, { created: `${date}T00:00:00Z` }).setTag(`app:${tag}`, id);
    }
    const plan = planCleanup(g, load('keep-releases-forever.yaml'), { now: NOW });
    expect(plan.delete.flatMap((op) => op.tags).sort()).toEqual([
      'app:2.0.0-rc.1',
      'app:2.0.0-rc.2',
      'app:old',
    ]);
    expect(plan.refused).toBeNull();
  });

  it('untagged-grace.yaml keeps tags, keeps young untagged images, drops old ones and caches', () => {
    const g = new ImageGraph();
    g.addImage('app@sha256:t', { created: '2020-01-01T00:00:00Z' }).setTag(
      'app:v1',
      'app@sha256:t',
    );
    g.addImage('app@sha256:young', { created: '2024-06-25T00:00:00Z' });
    g.addImage('app@sha256:old', { created: '2024-06-01T00:00:00Z' });
    g.addImage('app@sha256:cache', { artifactType: 'application/vnd.buildkit.cacheconfig.v0' });
    g.addReferrer('app@sha256:cache', 'app@sha256:t');
    const plan = planCleanup(g, load('untagged-grace.yaml'), { now: NOW });
    expect(plan.delete.map((op) => op.image).sort()).toEqual([
      'app@sha256:cache',
      'app@sha256:old',
    ]);
  });
});
