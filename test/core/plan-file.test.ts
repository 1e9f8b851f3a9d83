import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  checkPlanTarget,
  ImageGraph,
  InvalidPlanError,
  PlanMismatchError,
  parsePlan,
  planCleanup,
} from '../../src/index.js';

function graph(): ImageGraph {
  const g = new ImageGraph();
  for (const id of ['idx', 'amd64', 'old', 'oldSig', 'base']) g.addImage(id);
  g.addChild('idx', 'amd64').addReferrer('oldSig', 'old').addParent('old', 'base');
  g.setTag('latest', 'idx').setTag('v1', 'old').setTag('base', 'base');
  return g;
}

describe('parsePlan', () => {
  it('reads back a saved plan as the same plan (text or parsed JSON)', () => {
    const plan = planCleanup(graph(), ['latest', 'base']);
    plan.origin = { target: 'oci:/x', basis: 'keep', keep: ['latest', 'base'] };
    const text = JSON.stringify(plan);
    expect(JSON.stringify(parsePlan(text))).toBe(text);
    expect(parsePlan(JSON.parse(text))).toEqual(JSON.parse(text));
  });

  it('accepts the { plan, result } document apply --format json prints', () => {
    const plan = planCleanup(graph(), ['latest']);
    expect(parsePlan({ plan: JSON.parse(JSON.stringify(plan)), result: null }).delete).toEqual(
      plan.delete,
    );
  });

  it('names the first malformed field', () => {
    const plan = JSON.parse(JSON.stringify(planCleanup(graph(), ['latest'])));
    const broken = (edit: (p: Record<string, unknown>) => void): unknown => {
      const copy = structuredClone(plan);
      edit(copy);
      return copy;
    };
    const cases: Array<[unknown, string]> = [
      ['{', 'plan'],
      [[], 'plan'],
      [broken((p) => (p.format = 'regprune.plan.v2')), 'format'],
      [broken((p) => (p.delete = {})), 'delete'],
      [
        broken((p) => (((p.delete as Array<{ wave: unknown }>)[0] as { wave: unknown }).wave = -1)),
        'delete[0].wave',
      ],
      [
        broken(
          (p) => (((p.delete as Array<{ tags: unknown }>)[0] as { tags: unknown }).tags = 'v1'),
        ),
        'delete[0].tags',
      ],
      [broken((p) => (p.untag = [{ tag: 'a' }])), 'untag[0].image'],
      [broken((p) => (p.refused = 'no')), 'refused'],
      [broken((p) => (p.origin = { target: 'x', basis: 'guess' })), 'origin.basis'],
      [
        broken((p) => (p.delete = [...(p.delete as unknown[]), (p.delete as unknown[])[0]])),
        `delete[${plan.delete.length}].image`,
      ],
    ];
    for (const [input, path] of cases) {
      let error: unknown;
      try {
        parsePlan(typeof input === 'string' ? input : JSON.stringify(input));
      } catch (caught) {
        error = caught;
      }
      expect(error, path).toBeInstanceOf(InvalidPlanError);
      expect((error as InvalidPlanError).path).toBe(path);
    }
  });

  it('never throws anything but InvalidPlanError, whatever the JSON', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        try {
          parsePlan(value);
        } catch (error) {
          expect(error).toBeInstanceOf(InvalidPlanError);
        }
      }),
    );
  });
});

describe('checkPlanTarget', () => {
  it('refuses a plan recorded for another target, naming both; passes its own and unrecorded ones', () => {
    const plan = planCleanup(graph(), ['latest']);
    expect(() => checkPlanTarget(plan, 'http://127.0.0.1:5000')).not.toThrow();
    plan.origin = { target: 'http://127.0.0.1:5000', basis: 'keep' };
    expect(() => checkPlanTarget(plan, 'http://127.0.0.1:5000')).not.toThrow();
    expect(() => checkPlanTarget(plan, 'http://127.0.0.1:5001')).toThrow(PlanMismatchError);
    expect(() => checkPlanTarget(plan, 'http://127.0.0.1:5001')).toThrow(
      /made for http:\/\/127\.0\.0\.1:5000, not for http:\/\/127\.0\.0\.1:5001/,
    );
  });
});
