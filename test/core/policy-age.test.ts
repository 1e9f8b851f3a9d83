/** The policy's age source: `age: created` (default) or `pushed`, with a per-image fallback. */
import { describe, expect, it } from 'vitest';
import {
  type CleanupPlan,
  ImageGraph,
  type ImageInfo,
  InvalidPolicyError,
  planCleanup,
  retentionPolicySchema,
  validatePolicy,
} from '../../src/index.js';

const NOW = '2024-06-30T00:00:00Z';
const day = (d: number) => `2024-06-${String(d).padStart(2, '0')}T00:00:00Z`;

/** One image per tag in `app`, with the given created and pushed June days (`null`: none). */
function graph(tags: Record<string, [number | null | '1970', number | null]>): ImageGraph {
  const g = new ImageGraph();
  for (const [tag, [created, pushed]] of Object.entries(tags)) {
    const info: ImageInfo = {};
    if (created !== null) info.created = created === '1970' ? '1970-01-01T00:00:00Z' : day(created);
    if (pushed !== null) info.pushed = day(pushed);
    g.addImage(`app@sha256:${tag}`, info);
    g.setTag(`app:${tag}`, `app@sha256:${tag}`);
  }
  return g;
}

const kept = (plan: CleanupPlan) =>
  (plan.tagDecisions ?? []).filter((d) => d.kept).map((d) => d.tag);
const decision = (plan: CleanupPlan, tag: string) =>
  (plan.tagDecisions ?? []).find((d) => d.tag === tag);
const codes = (plan: CleanupPlan) => plan.warnings.map((w) => `${w.code} ${w.id}`);

describe('age: pushed', () => {
  // Built long ago (created), pushed recently, and the other way round.
  const g = () => graph({ rebuilt: [1, 28], fresh: [27, 2], mid: [10, 15] });

  it('keepYoungerThan measures from the pushed time, and says so in the reason', () => {
    const byCreated = planCleanup(g(), { rules: [{ keepYoungerThan: '7d' }] }, { now: NOW });
    expect(kept(byCreated)).toEqual(['app:fresh']);
    const byPushed = planCleanup(
      g(),
      { age: 'pushed', rules: [{ keepYoungerThan: '7d' }] },
      { now: NOW },
    );
    expect(kept(byPushed)).toEqual(['app:rebuilt']);
    expect(decision(byPushed, 'app:rebuilt')).toMatchObject({
      reason: `rule 1 keepYoungerThan 7d (pushed ${new Date(day(28)).toISOString()})`,
      ageSource: 'pushed',
    });
    expect(decision(byPushed, 'app:fresh')).toMatchObject({ kept: false, ageSource: 'pushed' });
    expect(decision(byCreated, 'app:fresh')).toMatchObject({ ageSource: 'created' });
    expect(byPushed.warnings).toEqual([]);
  });

  it('keepNewest (orderBy created, the default) ranks by the age source', () => {
    const plan = planCleanup(g(), { age: 'pushed', rules: [{ keepNewest: 2 }] });
    expect(kept(plan)).toEqual(['app:mid', 'app:rebuilt']);
    expect(decision(plan, 'app:rebuilt')?.ageSource).toBe('pushed');
    expect(kept(planCleanup(g(), { rules: [{ keepNewest: 2 }] }))).toEqual([
      'app:fresh',
      'app:mid',
    ]);
  });

  it('name and semver orders read no ages, so their decisions carry no ageSource', () => {
    const plan = planCleanup(g(), { age: 'pushed', rules: [{ keepNewest: 1, orderBy: 'name' }] });
    expect(decision(plan, 'app:rebuilt')).not.toHaveProperty('ageSource');
  });

  it('an image without a pushed time falls back to created, with a warning naming it', () => {
    const mixed = graph({ a: [29, null], b: [1, 20], c: [2, 10] });
    const plan = planCleanup(
      mixed,
      { age: 'pushed', rules: [{ keepYoungerThan: '7d' }] },
      { now: NOW },
    );
    expect(kept(plan)).toEqual(['app:a']);
    expect(decision(plan, 'app:a')).toMatchObject({
      ageSource: 'created',
      reason: `rule 1 keepYoungerThan 7d (created ${new Date(day(29)).toISOString()})`,
    });
    expect(codes(plan)).toEqual(['AGE_SOURCE_FALLBACK app@sha256:a']);
    expect(plan.warnings[0]?.message).toMatch(/no pushed time.*created/);
  });

  it('age: created falls back to pushed for an image whose created date is not credible', () => {
    const reproducible = graph({ repro: ['1970', 29], old: [1, 1] });
    const plan = planCleanup(reproducible, { rules: [{ keepYoungerThan: '7d' }] }, { now: NOW });
    expect(kept(plan)).toEqual(['app:repro']);
    expect(decision(plan, 'app:repro')?.ageSource).toBe('pushed');
    expect(codes(plan)).toEqual(['AGE_SOURCE_FALLBACK app@sha256:repro']);
    expect(plan.warnings[0]?.message).toMatch(/1970.*pushed/);
  });

  it('with no pushed time at all, one warning says how to get them, and created decides', () => {
    const none = graph({ a: [29, null], b: [1, null] });
    const plan = planCleanup(
      none,
      { age: 'pushed', rules: [{ keepYoungerThan: '7d' }] },
      { now: NOW },
    );
    expect(kept(plan)).toEqual(['app:a']);
    expect(codes(plan)).toEqual(['AGE_SOURCE_UNAVAILABLE age']);
    expect(plan.warnings[0]?.message).toMatch(/--storage.*--state/);
  });

  it('an image with neither date is unknown (oldest), as before', () => {
    const plan = planCleanup(
      graph({ a: [null, null], b: [null, 29] }),
      { age: 'pushed', rules: [{ keepNewest: 1 }] },
      { now: NOW },
    );
    expect(kept(plan)).toEqual(['app:b']);
    expect(codes(plan)).toEqual(['UNKNOWN_DATE app@sha256:a']);
    expect(plan.warnings[0]?.message).toMatch(/no pushed time and no created date/);
  });

  it('an index without a pushed time of its own takes the newest of its platform manifests', () => {
    const g2 = new ImageGraph();
    g2.addImage('app@sha256:index', { created: day(1) });
    g2.addImage('app@sha256:amd64', { pushed: day(29) });
    g2.addChild('app@sha256:index', 'app@sha256:amd64');
    g2.setTag('app:multi', 'app@sha256:index');
    g2.addImage('app@sha256:old', { pushed: day(2) });
    g2.setTag('app:old', 'app@sha256:old');
    const plan = planCleanup(
      g2,
      { age: 'pushed', rules: [{ keepYoungerThan: '7d' }] },
      { now: NOW },
    );
    expect(kept(plan)).toEqual(['app:multi']);
    expect(plan.warnings).toEqual([]);
  });

  it('untagged.keepYoungerThan and untagged.keepNewest use the age source too', () => {
    const g3 = graph({ tagged: [29, 29] });
    g3.addImage('app@sha256:u1', { created: day(28), pushed: day(2) });
    g3.addImage('app@sha256:u2', { created: day(2), pushed: day(27) });
    g3.addImage('app@sha256:u3', { created: day(1), pushed: day(1) });
    const grace = planCleanup(
      g3,
      { age: 'pushed', rules: [{ keepTags: ['tagged'] }], untagged: { keepYoungerThan: '7d' } },
      { now: NOW },
    );
    expect(grace.delete.map((op) => op.image).sort()).toEqual(['app@sha256:u1', 'app@sha256:u3']);
    expect(grace.keep.find((k) => k.image === 'app@sha256:u2')?.note).toMatch(
      /^untagged grace period \(pushed /,
    );
    const newest = planCleanup(g3, {
      age: 'pushed',
      rules: [{ keepTags: ['tagged'] }],
      untagged: { keepNewest: 1 },
    });
    expect(newest.delete.map((op) => op.image).sort()).toEqual(['app@sha256:u1', 'app@sha256:u3']);
  });

  it('is validated: only created or pushed', () => {
    expect(validatePolicy({ age: 'pushed', rules: [{ keepNewest: 1 }] })).toMatchObject({
      age: 'pushed',
    });
    expect(() => validatePolicy({ age: 'modified', rules: [{ keepNewest: 1 }] })).toThrow(
      InvalidPolicyError,
    );
    expect(() => validatePolicy({ age: 'modified', rules: [{ keepNewest: 1 }] })).toThrow(
      /^age: must be one of created, pushed, got "modified"/,
    );
    expect(retentionPolicySchema.properties.age).toMatchObject({ enum: ['created', 'pushed'] });
  });
});
