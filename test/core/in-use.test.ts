/** In-use images: references (kubectl / ECS output) resolved against the graph and protected. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type CleanupPlan,
  explain,
  ImageGraph,
  parseImageReference,
  parseImageReferences,
  planCleanup,
  planDropTags,
  resolveImageReferences,
} from '../../src/index.js';

const D = (c: string) => `sha256:${c.repeat(64)}`;

/** team/app: v1 (A), v2 (B), latest (C); an untagged image U; tool:1.0 (T, same digest as A). */
function graph(): ImageGraph {
  const g = new ImageGraph();
  g.addImage(`team/app@${D('a')}`).setTag('team/app:v1', `team/app@${D('a')}`);
  g.addImage(`team/app@${D('b')}`).setTag('team/app:v2', `team/app@${D('b')}`);
  g.addImage(`team/app@${D('c')}`).setTag('team/app:latest', `team/app@${D('c')}`);
  g.addImage(`team/app@${D('e')}`);
  g.addImage(`tool@${D('f')}`).setTag('tool:1.0', `tool@${D('f')}`);
  return g;
}

const codes = (plan: CleanupPlan) => plan.warnings.map((w) => `${w.code} ${w.id}`);
const deleted = (plan: CleanupPlan) => plan.delete.map((op) => op.image);

describe('parseImageReferences', () => {
  it('reads kubectl jsonpath output (spaces), lines, and ECS text output (tabs); drops duplicates', () => {
    const kubectl =
      'registry.example.com/team/app:v1 nginx:1.25 registry.example.com/team/app:v1 docker.io/library/nginx:1.25';
    expect(parseImageReferences(kubectl)).toEqual([
      'registry.example.com/team/app:v1',
      'nginx:1.25',
      'docker.io/library/nginx:1.25',
    ]);
    expect(parseImageReferences(`team/app:v2\t${D('b')}\n\n  tool@${D('f')}\r\n`)).toEqual([
      'team/app:v2',
      D('b'),
      `tool@${D('f')}`,
    ]);
  });

  it('drops the runtime prefixes of Kubernetes imageID (docker-pullable://, docker://)', () => {
    expect(
      parseImageReferences(
        `docker-pullable://registry.example.com/team/app@${D('a')} docker://x:1`,
      ),
    ).toEqual([`registry.example.com/team/app@${D('a')}`, 'x:1']);
  });
});

describe('parseImageReference', () => {
  it('splits host, repository, tag and digest as Docker does (a host has a dot, a colon or is localhost)', () => {
    expect(parseImageReference('registry.example.com:5000/team/app:v1')).toEqual({
      host: 'registry.example.com:5000',
      repository: 'team/app',
      tag: 'v1',
    });
    expect(parseImageReference('team/app')).toEqual({ repository: 'team/app', tag: 'latest' });
    expect(parseImageReference(`localhost/app:v1@${D('a')}`)).toEqual({
      host: 'localhost',
      repository: 'app',
      tag: 'v1',
      digest: D('a'),
    });
    expect(parseImageReference(D('a'))).toEqual({ digest: D('a') });
    expect(parseImageReference('Team/App:v1')).toMatchObject({ problem: expect.any(String) });
  });
});

describe('resolveImageReferences', () => {
  it('resolves tags to digests, keeps digests, matches bare digests in any repository', () => {
    const { images, warnings } = resolveImageReferences(
      graph(),
      ['127.0.0.1:5000/team/app:v1', `team/app@${D('e')}`, D('f')],
      { registryHost: 'localhost:5000' },
    );
    expect(images).toEqual([`team/app@${D('a')}`, `team/app@${D('e')}`, `tool@${D('f')}`]);
    expect(warnings).toEqual([]);
  });

  it('ignores references to another registry with one warning per host; unknown ones are warnings', () => {
    const { images, warnings } = resolveImageReferences(
      graph(),
      ['docker.io/library/nginx:1.25', 'quay.io/x/y:1', 'docker.io/library/redis:7', 'team/app:v9'],
      { registryHost: 'registry.example.com', source: 'in-use.txt' },
    );
    expect(images).toEqual([]);
    expect(warnings.map((w) => `${w.code} ${w.id}`)).toEqual([
      'PROTECTED_IMAGE_OTHER_REGISTRY docker.io',
      'PROTECTED_IMAGE_OTHER_REGISTRY quay.io',
      'PROTECTED_IMAGE_NOT_FOUND team/app:v9',
    ]);
    expect(warnings[0]?.message).toMatch(
      /^2 references in in-use\.txt name registry docker\.io, not this one \(registry\.example\.com\)/,
    );
    expect(warnings[2]?.message).toMatch(/in-use\.txt names team\/app:v9.*protects nothing/);
  });

  it('without registryHost, a reference\u2019s host is not checked (protecting more is safe)', () => {
    const { images } = resolveImageReferences(graph(), ['anything.example/team/app:v2']);
    expect(images).toEqual([`team/app@${D('b')}`]);
  });
});

describe('protection in plans', () => {
  it('a keep-list plan keeps in-use images and their tags', () => {
    const plan = planCleanup(graph(), ['team/app:latest'], {
      protectImages: ['team/app:v1', D('e')],
      protectImagesSource: 'pods.txt',
    });
    expect(deleted(plan).sort()).toEqual([`team/app@${D('b')}`, `tool@${D('f')}`]);
    expect(plan.keptTags).toEqual(['team/app:latest', 'team/app:v1']);
    expect(explain(plan, 'team/app:v1')).toBe(
      `kept: protected (its image team/app@${D('a')} is in use, per pods.txt)`,
    );
    expect(explain(plan, `team/app@${D('e')}`)).toBe(
      `kept: protected (in use, per pods.txt) → team/app@${D('e')}`,
    );
  });

  it('a drop plan keeps an in-use image although its tag was named to drop', () => {
    const plan = planDropTags(graph(), ['team/app:v2'], { protectImages: ['team/app:v2'] });
    // Only the untagged image goes, as in any drop plan; v2's image and tag stay.
    expect(deleted(plan)).toEqual([`team/app@${D('e')}`]);
    expect(plan.untag).toEqual([]);
    expect(codes(plan)).toEqual([]);
  });

  it('a policy plan: protect.images takes references too, and options.protectImages adds to it', () => {
    const plan = planCleanup(
      graph(),
      { rules: [{ keepTags: ['latest'] }], protect: { images: ['team/app:v2'] } },
      {
        protectImages: ['registry.example.com/tool:1.0', 'quay.io/x:1'],
        registryHost: 'registry.example.com',
      },
    );
    expect(deleted(plan)).toEqual([`team/app@${D('a')}`, `team/app@${D('e')}`]);
    expect(explain(plan, 'team/app:v2')).toBe(
      `kept: protected (its image team/app@${D('b')} is in protect.images)`,
    );
    expect(explain(plan, 'tool:1.0')).toBe(
      `kept: protected (its image tool@${D('f')} is in use, per protectImages)`,
    );
    expect(codes(plan)).toEqual(['PROTECTED_IMAGE_OTHER_REGISTRY quay.io']);
  });
});

describe('safety (property)', () => {
  const tags = ['team/app:v1', 'team/app:v2', 'team/app:latest', 'tool:1.0'];
  const refs = [...tags, D('e'), `team/app@${D('b')}`, 'quay.io/x:1', 'team/app:gone'];
  it('an in-use image is never deleted and none of its tags removed, whatever the keep list, drop list or policy', () => {
    fc.assert(
      fc.property(
        fc.subarray(tags),
        fc.subarray(refs),
        fc.constantFrom('keep', 'drop', 'policy'),
        (list, inUse, mode) => {
          const g = graph();
          const options = { protectImages: inUse, registryHost: 'registry.example.com' };
          const plan =
            mode === 'drop'
              ? planDropTags(g, list, options)
              : mode === 'keep'
                ? planCleanup(g, list, options)
                : planCleanup(g, { rules: [{ keepNewest: 1, orderBy: 'name' }] }, options);
          const { images } = resolveImageReferences(g, inUse, options);
          const gone = new Set(plan.delete.map((op) => op.image));
          const untagged = new Set(plan.untag.map((op) => op.tag));
          for (const image of images) {
            expect(gone.has(image)).toBe(false);
            for (const tag of g.tagsOf(image)) expect(untagged.has(tag)).toBe(false);
          }
        },
      ),
    );
  });
});
