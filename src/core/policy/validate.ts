import type { AgeSource } from '../plan-types.js';
import { at, describe, duration, fail, matchers, object, string, stringList } from './fields.js';
import {
  compileRegex,
  compileRegexLiteral,
  compileRepositoryGlob,
  compileTagPattern,
  type Matcher,
} from './patterns.js';
import type {
  OrderBy,
  ProtectSpec,
  RetentionPolicy,
  RetentionRule,
  UntaggedSpec,
} from './types.js';

/** A rule ready to evaluate. */
export interface CompiledRule {
  /** 1-based, as reasons show it. */
  number: number;
  repositories: Matcher[] | null;
  tags: Matcher[] | null;
  keepTags: Matcher[];
  /** `dropTags`: the rule keeps every selected tag none of these match. */
  dropTags: Matcher[] | null;
  keepNewest: number | null;
  groupBy: RegExp | null;
  orderBy: OrderBy;
  keepYoungerThan: { text: string; ms: number } | null;
}

/** A validated policy with its patterns compiled. */
export interface CompiledPolicy {
  policy: RetentionPolicy;
  /** Where ages come from (`created` unless the policy says). */
  age: AgeSource;
  rules: CompiledRule[];
  protectTags: Matcher[];
  protectImages: string[];
  untaggedGrace: { text: string; ms: number } | null;
  /** `untagged.keepNewest`: how many untagged images each repository keeps, newest first. */
  untaggedNewest: number | null;
  /** `null` for `follow-subject`. */
  detachTypes: Matcher[] | null;
  maxDeletions: number | null;
  maxDeletionRatio: number | null;
  /** Whether any age criterion needs `now`. */
  needsNow: boolean;
  /** Whether any criterion reads creation dates. */
  usesDates: boolean;
}

const POLICY_KEYS = [
  '$schema',
  'age',
  'rules',
  'protect',
  'untagged',
  'referrers',
  'maxDeletions',
  'maxDeletionRatio',
] as const;
const RULE_KEYS = [
  'description',
  'repositories',
  'tags',
  'keepTags',
  'dropTags',
  'keepNewest',
  'groupBy',
  'orderBy',
  'keepYoungerThan',
] as const;
const PROTECT_KEYS = ['tags', 'images'] as const;
const UNTAGGED_KEYS = ['keepYoungerThan', 'keepNewest'] as const;
const ORDERS: readonly OrderBy[] = ['created', 'semver', 'name'];
const AGE_SOURCES: readonly AgeSource[] = ['created', 'pushed'];

function compileRule(
  value: unknown,
  path: string,
  index: number,
): { rule: RetentionRule; compiled: CompiledRule } {
  const raw = object(value, path, RULE_KEYS);
  const rule: RetentionRule = {};
  const compiled: CompiledRule = {
    number: index + 1,
    repositories: null,
    tags: null,
    keepTags: [],
    dropTags: null,
    keepNewest: null,
    groupBy: null,
    orderBy: 'created',
    keepYoungerThan: null,
  };
  if (raw.description !== undefined)
    rule.description = string(raw.description, at(path, 'description'));
  if (raw.repositories !== undefined) {
    rule.repositories = stringList(raw.repositories, at(path, 'repositories'), false);
    compiled.repositories = matchers(
      rule.repositories,
      at(path, 'repositories'),
      compileRepositoryGlob,
    );
  }
  if (raw.tags !== undefined) {
    rule.tags = stringList(raw.tags, at(path, 'tags'), false);
    compiled.tags = matchers(rule.tags, at(path, 'tags'), compileTagPattern);
  }
  if (raw.keepTags !== undefined) {
    rule.keepTags = stringList(raw.keepTags, at(path, 'keepTags'), true);
    compiled.keepTags = matchers(rule.keepTags, at(path, 'keepTags'), compileTagPattern);
  }
  if (raw.dropTags !== undefined) {
    rule.dropTags = stringList(raw.dropTags, at(path, 'dropTags'), false);
    compiled.dropTags = matchers(rule.dropTags, at(path, 'dropTags'), compileTagPattern);
    const other = (['keepTags', 'keepNewest', 'keepYoungerThan'] as const).find(
      (key) => raw[key] !== undefined,
    );
    if (other) {
      fail(
        at(path, 'dropTags'),
        `cannot be combined with ${other} in one rule: dropTags keeps every tag it does not match; to keep some dropped tags, add a rule that selects them (tags) with ${other}`,
      );
    }
  }
  if (raw.keepNewest !== undefined) {
    const n = raw.keepNewest;
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1) {
      fail(at(path, 'keepNewest'), `must be a positive integer, got ${describe(n)}`);
    }
    rule.keepNewest = n;
    compiled.keepNewest = n;
  }
  if (raw.groupBy !== undefined) {
    const text = string(raw.groupBy, at(path, 'groupBy'));
    if (text.length === 0) fail(at(path, 'groupBy'), 'must be a non-empty regex');
    const regex = text.startsWith('/') ? compileRegexLiteral(text) : compileRegex(text);
    if (!(regex instanceof RegExp)) fail(at(path, 'groupBy'), regex.problem);
    // An alternative that matches the empty string makes the match array show the group count.
    const groups = (new RegExp(`${regex.source}|`, regex.flags).exec('')?.length ?? 1) - 1;
    if (groups === 0) {
      fail(
        at(path, 'groupBy'),
        'has no capture group; keepNewest counts per value of the capture groups, so wrap the part of the tag that names the group in parentheses, e.g. ^(.*)-\\d+$ counts per branch',
      );
    }
    rule.groupBy = text;
    compiled.groupBy = regex;
  }
  if (raw.orderBy !== undefined) {
    const order = raw.orderBy;
    if (typeof order !== 'string' || !ORDERS.includes(order as OrderBy)) {
      fail(at(path, 'orderBy'), `must be one of ${ORDERS.join(', ')}, got ${describe(order)}`);
    }
    rule.orderBy = order as OrderBy;
    compiled.orderBy = order as OrderBy;
  }
  if (raw.keepYoungerThan !== undefined) {
    compiled.keepYoungerThan = duration(raw.keepYoungerThan, at(path, 'keepYoungerThan'));
    rule.keepYoungerThan = compiled.keepYoungerThan.text;
  }
  for (const key of ['groupBy', 'orderBy'] as const) {
    if (raw[key] !== undefined && raw.keepNewest === undefined) {
      fail(at(path, key), 'only applies to keepNewest, which this rule does not set');
    }
  }
  if (
    raw.keepTags === undefined &&
    raw.dropTags === undefined &&
    raw.keepNewest === undefined &&
    raw.keepYoungerThan === undefined
  ) {
    fail(
      path,
      'keeps nothing: set keepTags, keepNewest, keepYoungerThan or dropTags (to bring repositories into scope without keeping any tag, write keepTags: [])',
    );
  }
  return { rule, compiled };
}

/**
 * Checks a policy value (from JSON, YAML or code) and compiles its patterns.
 *
 * @throws {InvalidPolicyError} naming the field path and the problem, for unknown keys, wrong
 *   types, bad globs, regexes or durations, and rules that keep nothing.
 * @internal
 */
export function compilePolicy(value: unknown): CompiledPolicy {
  const raw = object(value, 'policy', POLICY_KEYS);
  const policy: RetentionPolicy = { rules: [] };
  if (raw.$schema !== undefined) policy.$schema = string(raw.$schema, '$schema');
  let age: AgeSource = 'created';
  if (raw.age !== undefined) {
    if (typeof raw.age !== 'string' || !AGE_SOURCES.includes(raw.age as AgeSource)) {
      fail('age', `must be one of ${AGE_SOURCES.join(', ')}, got ${describe(raw.age)}`);
    }
    age = raw.age as AgeSource;
    policy.age = age;
  }
  if (raw.rules === undefined) fail('rules', 'is required: list at least one rule');
  if (!Array.isArray(raw.rules))
    fail('rules', `must be a list of rules, got ${describe(raw.rules)}`);
  if (raw.rules.length === 0) {
    fail('rules', 'must list at least one rule (with no rule, no repository would be in scope)');
  }
  const rules = raw.rules.map((item, i) => compileRule(item, `rules[${i}]`, i));
  policy.rules = rules.map((r) => r.rule);

  let protectTags: Matcher[] = [];
  let protectImages: string[] = [];
  if (raw.protect !== undefined) {
    const p = object(raw.protect, 'protect', PROTECT_KEYS);
    const protect: ProtectSpec = {};
    if (p.tags !== undefined) {
      protect.tags = stringList(p.tags, 'protect.tags', true);
      protectTags = matchers(protect.tags, 'protect.tags', compileTagPattern);
    }
    if (p.images !== undefined) {
      protect.images = stringList(p.images, 'protect.images', true);
      protect.images.forEach((id, i) => {
        if (id.length === 0) fail(`protect.images[${i}]`, 'must be a non-empty image id');
      });
      protectImages = protect.images;
    }
    policy.protect = protect;
  }

  let untaggedGrace: { text: string; ms: number } | null = null;
  let untaggedNewest: number | null = null;
  if (raw.untagged !== undefined) {
    const u = object(raw.untagged, 'untagged', UNTAGGED_KEYS);
    const untagged: UntaggedSpec = {};
    if (u.keepYoungerThan !== undefined) {
      untaggedGrace = duration(u.keepYoungerThan, 'untagged.keepYoungerThan');
      untagged.keepYoungerThan = untaggedGrace.text;
    }
    if (u.keepNewest !== undefined) {
      const n = u.keepNewest;
      if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1) {
        fail('untagged.keepNewest', `must be a positive integer, got ${describe(n)}`);
      }
      untaggedNewest = n;
      untagged.keepNewest = n;
    }
    policy.untagged = untagged;
  }

  let detachTypes: Matcher[] | null = null;
  if (raw.referrers !== undefined && raw.referrers !== 'follow-subject') {
    if (!Array.isArray(raw.referrers)) {
      fail(
        'referrers',
        `must be "follow-subject" or a list of artifactType patterns, got ${describe(raw.referrers)}`,
      );
    }
    const list = stringList(raw.referrers, 'referrers', false);
    detachTypes = matchers(list, 'referrers', compileArtifactTypePattern);
    policy.referrers = list;
  } else if (raw.referrers !== undefined) {
    policy.referrers = 'follow-subject';
  }

  let maxDeletions: number | null = null;
  if (raw.maxDeletions !== undefined) {
    const n = raw.maxDeletions;
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
      fail('maxDeletions', `must be a non-negative integer, got ${describe(n)}`);
    }
    maxDeletions = n;
    policy.maxDeletions = n;
  }
  let maxDeletionRatio: number | null = null;
  if (raw.maxDeletionRatio !== undefined) {
    const r = raw.maxDeletionRatio;
    if (typeof r !== 'number' || !Number.isFinite(r) || r < 0 || r > 1) {
      fail('maxDeletionRatio', `must be a number from 0 to 1 (a fraction), got ${describe(r)}`);
    }
    maxDeletionRatio = r;
    policy.maxDeletionRatio = r;
  }

  const compiled = rules.map((r) => r.compiled);
  const needsNow = untaggedGrace !== null || compiled.some((r) => r.keepYoungerThan !== null);
  return {
    policy,
    age,
    rules: compiled,
    protectTags,
    protectImages,
    untaggedGrace,
    untaggedNewest,
    detachTypes,
    maxDeletions,
    maxDeletionRatio,
    needsNow,
    usesDates:
      needsNow ||
      untaggedNewest !== null ||
      compiled.some((r) => r.keepNewest !== null && r.orderBy === 'created'),
  };
}

/**
 * An artifactType pattern: `/regex/` or a glob where `*` matches any run of characters
 * (including `/`), e.g. `application/vnd.buildkit.cache*`.
 */
function compileArtifactTypePattern(text: string): Matcher | { problem: string } {
  if (text.length === 0) return { problem: 'must be a non-empty artifactType pattern' };
  if (text.startsWith('/')) {
    const regex = compileRegexLiteral(text);
    if (!(regex instanceof RegExp)) return regex;
    return { source: text, test: (value) => regex.test(value) };
  }
  let re = '';
  for (const c of text) {
    re += c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\/]/g, '\\$&');
  }
  const regex = new RegExp(`^${re}$`);
  return { source: text, test: (value) => regex.test(value) };
}

/**
 * Checks a policy value (parsed JSON or YAML, or an object built in code) and returns a clean copy.
 *
 * @throws {InvalidPolicyError} naming the field path and the problem, e.g.
 *   `rules[1].keepNewest: must be a positive integer, got -3`.
 */
export function validatePolicy(value: unknown): RetentionPolicy {
  return compilePolicy(value).policy;
}
