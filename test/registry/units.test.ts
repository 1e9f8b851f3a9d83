import { describe, expect, it } from 'vitest';
import {
  blockedByRemainingPointers,
  classifyTag,
  fallbackIndexAfterDeletes,
  recheckRoots,
} from '../../src/core/attachments.js';
import { repositorySelector } from '../../src/core/oci/repository-glob.js';
import type { CleanupPlan } from '../../src/index.js';
import { type Context, noteFailure } from '../../src/registry/apply/context.js';
import { parseChallenge } from '../../src/registry/auth/challenge.js';
import { baseRepository, sameRegistryHost } from '../../src/registry/base-image.js';
import {
  MalformedManifestError,
  RegistryHttpError,
  RegistryUnreachableError,
} from '../../src/registry/errors/index.js';
import { nextLink } from '../../src/registry/link.js';
import { parseManifest } from '../../src/registry/manifest.js';
import { isRepositoryName, isTag } from '../../src/registry/reference.js';

const HEX = 'ab'.repeat(32);
const D = `sha256:${HEX}`;

describe('attachment rules (core)', () => {
  it('classifies cosign and fallback tags, and nothing else', () => {
    expect(classifyTag(`sha256-${HEX}`)).toEqual({ kind: 'fallback', subject: D });
    expect(classifyTag(`sha256-${HEX}.sig`)).toEqual({ kind: 'cosign', subject: D, suffix: 'sig' });
    expect(classifyTag(`sha256-${HEX}.sbom`)).toMatchObject({ kind: 'cosign', suffix: 'sbom' });
    for (const tag of ['latest', `sha256-${HEX}.other`, `sha256-${HEX.slice(2)}`, `SHA256-${HEX}`])
      expect(classifyTag(tag)).toEqual({ kind: 'plain' });
  });

  it('rewrites a fallback index without deleted referrers, removes it when empty or subject goes', () => {
    const list = [{ digest: 'a' }, { digest: 'b' }, { digest: 'c' }];
    expect(fallbackIndexAfterDeletes(list, new Set(['x']), false)).toEqual({ action: 'keep' });
    expect(fallbackIndexAfterDeletes(list, new Set(['b']), false)).toEqual({
      action: 'rewrite',
      manifests: [{ digest: 'a' }, { digest: 'c' }],
    });
    expect(fallbackIndexAfterDeletes(list, new Set(['a', 'b', 'c']), false)).toEqual({
      action: 'remove',
    });
    expect(fallbackIndexAfterDeletes(list, new Set(), true)).toEqual({ action: 'remove' });
  });

  it('re-check roots: tags going with their planned image and modeled attachments are not roots', () => {
    const plan = {
      delete: [{ image: 'r@old', tags: ['r:old'], wave: 0 }],
    } as unknown as CleanupPlan;
    const roots = recheckRoots(
      plan,
      [
        ['r:old', 'r@old'],
        ['r:moved', 'r@old'],
        ['r:keep', 'r@k'],
        ['r:sig', 'r@s'],
      ],
      (tag) => tag === 'r:sig',
    );
    expect(roots).toEqual([
      ['r:moved', 'r@old'],
      ['r:keep', 'r@k'],
    ]);
    // A tag that moved off its planned image onto another is a root again.
    expect(recheckRoots(plan, [['r:old', 'r@new']], () => false)).toEqual([['r:old', 'r@new']]);
  });

  it('blocks a deletion while something pointing at it remains', () => {
    const pointers: Record<string, string[]> = { child: ['index'], other: [] };
    const blocked = blockedByRemainingPointers(
      ['child', 'other'],
      (i) => pointers[i] ?? [],
      (p) => p === 'index',
    );
    expect([...blocked]).toEqual([['child', 'index']]);
  });
});

describe('registry helpers', () => {
  it('matches repository globs per path segment', () => {
    expect(repositorySelector(['team/*'])('team/a')).toBe(true);
    expect(repositorySelector(['team/*'])('team/a/b')).toBe(false);
    expect(repositorySelector(['team/**'])('team/a/b')).toBe(true);
    expect(repositorySelector(['**/app'])('app')).toBe(true);
    expect(repositorySelector(['a.b'])('axb')).toBe(false);
  });

  it('reads Link rel="next", relative or absolute', () => {
    const base = 'http://127.0.0.1:5000/v2/_catalog?n=2';
    expect(nextLink('</v2/_catalog?last=b&n=2>; rel="next"', base)).toBe(
      'http://127.0.0.1:5000/v2/_catalog?last=b&n=2',
    );
    expect(nextLink('<https://x.example/v2/t?p=2>; rel=next', base)).toBe(
      'https://x.example/v2/t?p=2',
    );
    expect(nextLink('</a>; rel="prev", </b>; rel="next"', base)).toBe('http://127.0.0.1:5000/b');
    expect(nextLink(null, base)).toBeUndefined();
  });

  it('parses Bearer and Basic challenges', () => {
    expect(
      parseChallenge(
        'Bearer realm="https://auth.example/token",service="reg",scope="repository:a/b:pull,push"',
      ),
    ).toEqual({
      scheme: 'bearer',
      params: {
        realm: 'https://auth.example/token',
        service: 'reg',
        scope: 'repository:a/b:pull,push',
      },
    });
    expect(parseChallenge('Basic realm="r"')).toEqual({ scheme: 'basic', params: { realm: 'r' } });
    expect(parseChallenge('Negotiate')).toBeUndefined();
  });

  it('finds the repository of a base image only in this registry', () => {
    expect(baseRepository(undefined, 'app', 'reg:5000')).toBe('app');
    expect(baseRepository('reg:5000/team/base:1', 'app', 'reg:5000')).toBe('team/base');
    expect(baseRepository('reg:5000/team/base@sha256:00', 'app', 'reg:5000')).toBe('team/base');
    expect(baseRepository('docker.io/library/alpine:3', 'app', 'reg:5000')).toBeUndefined();
    expect(baseRepository('alpine:3', 'app', 'reg:5000')).toBeUndefined();
    expect(baseRepository('127.0.0.1:5401/tools/base:2024.01', 'app', 'localhost:5401')).toBe(
      'tools/base',
    );
    expect(baseRepository('127.0.0.1:5402/tools/base:2024.01', 'app', 'localhost:5401')).toBe(
      undefined,
    );
  });

  it('compares registry hosts across loopback names, default ports and case', () => {
    expect(sameRegistryHost('127.0.0.1:5000', 'localhost:5000')).toBe(true);
    expect(sameRegistryHost('[::1]:5000', 'LocalHost:5000')).toBe(true);
    expect(sameRegistryHost('Reg.Example.com', 'reg.example.com:443')).toBe(true);
    expect(sameRegistryHost('reg.example.com:80', 'reg.example.com')).toBe(true);
    expect(sameRegistryHost('reg.example.com:5000', 'reg.example.com')).toBe(false);
    expect(sameRegistryHost('127.0.0.1:5000', '127.0.0.1:5001')).toBe(false);
    expect(sameRegistryHost('reg.example.com', 'other.example.com')).toBe(false);
  });

  it('validates names against the distribution grammar', () => {
    expect(isRepositoryName('team/app-1_x.y')).toBe(true);
    expect(isRepositoryName('Team/app')).toBe(false);
    expect(isRepositoryName('a//b')).toBe(false);
    expect(isTag('v1.2.3-rc_1')).toBe(true);
    expect(isTag('-v1')).toBe(false);
    expect(isTag('x'.repeat(129))).toBe(false);
  });

  it('reads Docker schema 1 as opaque and refuses malformed manifests, naming repository and digest', () => {
    const bytes = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
    const schema1 = bytes({ schemaVersion: 1, name: 'app', fsLayers: [] });
    expect(
      parseManifest(schema1, 'application/vnd.docker.distribution.manifest.v1+prettyjws', 'app', D),
    ).toMatchObject({
      kind: 'opaque',
      mediaType: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
    });
    const badLayer = bytes({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'x', digest: D, size: 1 },
      layers: [{ mediaType: 'x', digest: 'md5:abc', size: 1 }],
    });
    const error = (() => {
      try {
        parseManifest(badLayer, undefined, 'app', D);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(MalformedManifestError);
    expect((error as Error).message).toContain(`app@${D}`);
    expect((error as Error).message).toContain('layers[0].digest');
  });
});

describe('when a run stops by itself (noteFailure)', () => {
  const fresh = () =>
    ({
      client: { url: 'http://127.0.0.1:5000' },
      unreachable: 0,
      lastUnreachableAt: Number.NEGATIVE_INFINITY,
      counted: new WeakSet(),
      dead: new AbortController(),
      deadReason: undefined,
    }) as unknown as Context;
  const refused = (url: string) =>
    new RegistryUnreachableError(
      'GET',
      url,
      3,
      Object.assign(new Error('x'), { code: 'ECONNREFUSED' }),
    );

  it('3 distinct failed requests stop it; one request failing several operations counts once', () => {
    const ctx = fresh();
    const shared = new RegistryHttpError(
      503,
      'GET',
      'http://127.0.0.1:5000/v2/a/tags/list',
      undefined,
    );
    for (let i = 0; i < 5; i++) noteFailure(ctx, shared);
    expect(ctx.dead.signal.aborted).toBe(false);
    noteFailure(ctx, new RegistryHttpError(500, 'GET', 'http://127.0.0.1:5000/v2/', undefined));
    expect(ctx.unreachable).toBe(1);
    noteFailure(ctx, refused('http://127.0.0.1:5000/v2/a/manifests/x'));
    noteFailure(ctx, refused('http://127.0.0.1:5000/v2/a/manifests/y'));
    expect(ctx.dead.signal.aborted).toBe(true);
    expect(ctx.deadReason).toBe(
      'not attempted: the registry stopped answering (ECONNREFUSED) — 3 requests in a row failed after their retries',
    );
  });

  it('names another host (a token service, a platform API) rather than blaming the registry', () => {
    const ctx = fresh();
    for (const path of ['a', 'b', 'c'])
      noteFailure(
        ctx,
        new RegistryHttpError(502, 'GET', `https://auth.127.0.0.1.test/${path}`, undefined),
      );
    expect(ctx.deadReason).toMatch(
      /stopped answering \(HTTP 502 from auth\.127\.0\.0\.1\.test\) —/,
    );
  });
});
