/**
 * Reading a saved plan back: `regprune apply --plan plan.json` applies exactly the plan a person
 * reviewed. The file may have been edited since, so every field an adapter acts on is checked
 * here for shape; what it says is then re-checked against the target as it is now by the adapter.
 */
import { InvalidPlanError } from './errors/invalid-plan-error.js';
import { PlanMismatchError } from './errors/plan-mismatch-error.js';
import type {
  CleanupPlan,
  DeleteOperation,
  PlanOrigin,
  PlanWarning,
  UntagOperation,
} from './plan-types.js';

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function field<T>(
  object: Json,
  key: string,
  path: string,
  check: (value: unknown) => value is T,
  expected: string,
): T {
  const value = object[key];
  if (!check(value)) {
    throw new InvalidPlanError(
      path ? `${path}.${key}` : key,
      `expected ${expected}, found ${describe(value)}`,
    );
  }
  return value;
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.slice(0, 80))}`;
  return `a ${typeof value}`;
}

const isString = (value: unknown): value is string => typeof value === 'string' && value !== '';
const isArray = (value: unknown): value is unknown[] => Array.isArray(value);
const isStringArray = (value: unknown): value is string[] =>
  Array.isArray(value) && value.every(isString);
const isWave = (value: unknown): value is number =>
  typeof value === 'number' && Number.isInteger(value) && value >= 0;
const isCount = isWave;

function list<T>(
  plan: Json,
  key: string,
  each: (item: Json, path: string) => T,
  required = true,
): T[] {
  const value = plan[key];
  if (value === undefined && !required) return [];
  const items = field(plan, key, '', isArray, 'an array');
  return items.map((item, i) => {
    const path = `${key}[${i}]`;
    if (!isObject(item))
      throw new InvalidPlanError(path, `expected an object, found ${describe(item)}`);
    return each(item, path);
  });
}

function untagOf(item: Json, path: string): UntagOperation {
  return {
    tag: field(item, 'tag', path, isString, 'a tag id'),
    image: field(item, 'image', path, isString, 'an image id'),
  };
}

function deleteOf(item: Json, path: string): DeleteOperation {
  const op: DeleteOperation = {
    image: field(item, 'image', path, isString, 'an image id'),
    tags: field(item, 'tags', path, isStringArray, 'an array of tag ids'),
    wave: field(item, 'wave', path, isWave, 'a wave number (an integer ≥ 0)'),
  };
  if (item.mediaType !== undefined) {
    op.mediaType = field(item, 'mediaType', path, isString, 'a media type');
  }
  if (item.detachedReferrer !== undefined) {
    if (item.detachedReferrer !== true) {
      throw new InvalidPlanError(`${path}.detachedReferrer`, 'expected true when present');
    }
    op.detachedReferrer = true;
  }
  return op;
}

function warningOf(item: Json, path: string): PlanWarning {
  return {
    code: field(item, 'code', path, isString, 'a warning code'),
    id: field(item, 'id', path, (v): v is string => typeof v === 'string', 'an id'),
    message: field(item, 'message', path, (v): v is string => typeof v === 'string', 'a message'),
  };
}

function originOf(value: unknown): PlanOrigin | undefined {
  if (value === undefined) return undefined;
  if (!isObject(value)) {
    throw new InvalidPlanError('origin', `expected an object, found ${describe(value)}`);
  }
  const basis = value.basis;
  if (basis !== 'policy' && basis !== 'keep') {
    throw new InvalidPlanError(
      'origin.basis',
      `expected "policy" or "keep", found ${describe(basis)}`,
    );
  }
  const origin: PlanOrigin = {
    target: field(value, 'target', 'origin', isString, 'a target'),
    basis,
  };
  for (const key of ['policyDigest', 'now', 'madeAt'] as const) {
    if (value[key] !== undefined) origin[key] = field(value, key, 'origin', isString, 'a string');
  }
  for (const key of ['keep', 'drop', 'repositories'] as const) {
    if (value[key] !== undefined)
      origin[key] = field(value, key, 'origin', isStringArray, 'an array of strings');
  }
  return origin;
}

/**
 * Checks a plan read back from JSON (`JSON.parse` of a saved plan, or the text itself) and returns
 * it as a {@link CleanupPlan} holding only the fields regprune knows. Only the fields an adapter
 * acts on are required: `format`, `untag`, `delete`, `keptTags` and `refused`; listing sections
 * (`keep`, `blobs`, `tagDecisions`) are carried over when present and well formed.
 *
 * A plan is an upper bound, never a licence: adapters re-check every deletion against the target
 * as it is now and skip those a current tag reaches (see `recheckPlan`). Anyone who can edit the
 * file can add operations to it, so pin the reviewed file (`apply --plan-sha256`) when it passes
 * through hands you do not trust.
 *
 * @throws {InvalidPlanError} naming the first field that is missing or malformed.
 * @example
 * ```ts
 * const plan = parsePlan(await readFile('plan.json', 'utf8'));
 * await applyPlan(client, plan);
 * ```
 */
export function parsePlan(input: unknown): CleanupPlan {
  let value = input;
  if (typeof input === 'string') {
    try {
      value = JSON.parse(input);
    } catch (error) {
      throw new InvalidPlanError('plan', `not JSON (${(error as Error).message})`, {
        cause: error,
      });
    }
  }
  if (!isObject(value))
    throw new InvalidPlanError('plan', `expected an object, found ${describe(value)}`);
  // `regprune apply --format json` prints `{ plan, result }`; accept the plan inside it.
  const plan = isObject(value.plan) && value.format === undefined ? value.plan : value;
  if (plan.format !== 'regprune.plan.v1') {
    throw new InvalidPlanError(
      'format',
      `expected "regprune.plan.v1", found ${describe(plan.format)} (is this a regprune plan?)`,
    );
  }
  const refused = plan.refused;
  if (refused !== null && !(isObject(refused) && typeof refused.reason === 'string')) {
    throw new InvalidPlanError(
      'refused',
      `expected null or { reason }, found ${describe(refused)}`,
    );
  }
  const untag = list(plan, 'untag', untagOf);
  const deletes = list(plan, 'delete', deleteOf);
  const seen = new Set<string>();
  deletes.forEach((op, i) => {
    if (seen.has(op.image)) {
      throw new InvalidPlanError(
        `delete[${i}].image`,
        `${JSON.stringify(op.image)} is listed twice`,
      );
    }
    seen.add(op.image);
  });
  const summary = isObject(plan.summary) ? plan.summary : {};
  const count = (key: string, fallback: number): number => {
    const n = summary[key];
    return isCount(n) ? n : fallback;
  };
  const result: CleanupPlan = {
    format: 'regprune.plan.v1',
    keptTags: field(plan, 'keptTags', '', isStringArray, 'an array of tag ids'),
    untag,
    delete: deletes,
    keep: isArray(plan.keep) ? (plan.keep as CleanupPlan['keep']) : [],
    blobs: isArray(plan.blobs) ? (plan.blobs as CleanupPlan['blobs']) : [],
    reclaimableBytes: isCount(plan.reclaimableBytes) ? plan.reclaimableBytes : 0,
    summary: {
      images: count('images', 0),
      tags: count('tags', 0),
      keptImages: count('keptImages', 0),
      deletedImages: count('deletedImages', deletes.length),
      untaggedTags: count('untaggedTags', untag.length),
      deletedTags: count(
        'deletedTags',
        deletes.reduce((n, op) => n + op.tags.length, 0),
      ),
    },
    refused: refused === null ? null : { reason: (refused as { reason: string }).reason },
    warnings: list(plan, 'warnings', warningOf, false),
  };
  if (plan.danglingTags !== undefined) {
    result.danglingTags = field(plan, 'danglingTags', '', isStringArray, 'an array of tag ids');
  }
  if (isArray(plan.tagDecisions))
    result.tagDecisions = plan.tagDecisions as CleanupPlan['tagDecisions'];
  const origin = originOf(plan.origin);
  if (origin) result.origin = origin;
  return result;
}

/**
 * Refuses a plan whose recorded {@link PlanOrigin.target} names another target than `target`
 * (the adapter's own description). Plans that record no origin pass: nothing says where they
 * came from, and the adapters' checks still apply.
 * @throws {PlanMismatchError} naming both targets.
 */
export function checkPlanTarget(plan: CleanupPlan, target: string): void {
  const recorded = plan.origin?.target;
  if (recorded === undefined || recorded === target) return;
  throw new PlanMismatchError(
    recorded,
    `the plan was made for ${recorded}, not for ${target}; a plan is applied only to the target it was made for`,
  );
}

/**
 * The cheap check every adapter's `applyPlan` makes of the plan object it is handed (a full
 * check of a plan read from a file is {@link parsePlan}): the plan format and its operation lists.
 * @throws {InvalidPlanError} naming the first field that is wrong.
 */
export function assertPlanShape(plan: unknown): asserts plan is CleanupPlan {
  if (!isObject(plan))
    throw new InvalidPlanError('plan', `expected an object, found ${describe(plan)}`);
  if (plan.format !== 'regprune.plan.v1') {
    throw new InvalidPlanError(
      'format',
      `expected "regprune.plan.v1", found ${describe(plan.format)} (is this a regprune plan?)`,
    );
  }
  for (const name of ['untag', 'delete', 'keep', 'blobs', 'keptTags'] as const) {
    if (!isArray(plan[name]))
      throw new InvalidPlanError(name, `expected an array, found ${describe(plan[name])}`);
  }
}

/**
 * What `CleanupTarget.checkPlan` does: {@link parsePlan}, then {@link checkPlanTarget}.
 * @throws {InvalidPlanError} when `input` is not a plan.
 * @throws {PlanMismatchError} when it records another target than `target`.
 */
export function parsePlanFor(input: unknown, target: string): CleanupPlan {
  const plan = parsePlan(input);
  checkPlanTarget(plan, target);
  return plan;
}
