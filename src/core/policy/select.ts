// Over 400 lines: evaluating a policy (scopes, orderings, keepNewest, typo checks) shares one
// per-repository tag index; the unmatched-pattern checks already live in unmatched.ts.
import { InvalidPolicyError } from '../errors/invalid-policy-error.js';
import type { ImageGraph } from '../image-graph.js';
import { type ProtectOptions, resolveImageReferences } from '../image-references.js';
import { repositoryOfImage, repositoryOfTag, tagName } from '../naming.js';
import type { PlanWarning, TagDecision } from '../plan-types.js';
import { compareIds } from '../sort.js';
import { DateBook } from './dates.js';
import {
  compareChunks,
  compareNatural,
  compareSemverKeyed,
  naturalChunks,
  parseSemver,
} from './ordering.js';
import type { Matcher } from './patterns.js';
import type { PolicyPlanOptions, RetentionPolicy } from './types.js';
import { checkRepositoryEntries, checkTagEntries } from './unmatched.js';
import { type CompiledPolicy, type CompiledRule, compilePolicy } from './validate.js';

/** Reason of a tag in a repository that no rule's `repositories` matches. */
export const OUT_OF_SCOPE = 'out of policy scope';
/** Reason of a tag that no rule keeps. */
export const NO_RULE = 'no rule kept it';

/**
 * ` in <repository>` for rank notes, or nothing for images without a repository (an OCI layout's
 * images, the seed's plain ids): there is only one place they could be ranked in.
 */
export function inRepository(repository: string): string {
  return repository === '' ? '' : ` in ${repository}`;
}

/** Why an image of an out-of-scope repository stays. */
export function outOfScopeNote(repository: string): string {
  return repository === ''
    ? 'out of policy scope: it has no repository (an OCI layout image), and every rule names repositories'
    : `repository ${repository} is out of policy scope`;
}

/** Everything the policy decided before the graph closure. @internal */
export interface Evaluation {
  decisions: TagDecision[];
  keptTags: Set<string>;
  /** Repositories (of tags and images) that no rule matches. */
  outOfScope: Set<string>;
  /** Whether some rule matches the repository (any repository, in the graph or not). */
  inScope: (repository: string) => boolean;
  /** Images in `protect.images` or in use that the graph holds, sorted. */
  protectedImages: string[];
  /** Why each protected image is: `protect.images`, or `in use, per SOURCE`. */
  protectedBy: Map<string, string>;
  /** Images whose date a criterion needed but is unknown, with why. */
  unknownDates: Map<string, string>;
  warnings: PlanWarning[];
  dates: DateBook;
  now: number | null;
}

interface TagEntry {
  tag: string;
  name: string;
  image: string;
}

/** Resolves `options.now`, which is required when the policy measures ages. @internal */
export function resolveNow(compiled: CompiledPolicy, options: PolicyPlanOptions): number | null {
  const { now } = options;
  if (now === undefined) {
    if (!compiled.needsNow) return null;
    const index = compiled.rules.findIndex((r) => r.keepYoungerThan !== null);
    const field = index >= 0 ? `rules[${index}].keepYoungerThan` : 'untagged.keepYoungerThan';
    throw new InvalidPolicyError(
      'options.now',
      `is required because ${field} measures age from it; pass { now: new Date() } (the core never reads the clock, so plans are reproducible)`,
    );
  }
  const ms = now instanceof Date ? now.getTime() : typeof now === 'string' ? Date.parse(now) : now;
  if (typeof ms !== 'number' || !Number.isFinite(ms)) {
    throw new InvalidPolicyError(
      'options.now',
      `must be a Date, an ISO 8601 string or epoch milliseconds, got ${String(now)}`,
    );
  }
  return ms;
}

function inScopeOf(rules: readonly CompiledRule[]): (repository: string) => boolean {
  const memo = new Map<string, boolean>();
  return (repository) => {
    let hit = memo.get(repository);
    if (hit === undefined) {
      hit = rules.some(
        (r) => r.repositories === null || r.repositories.some((m) => m.test(repository)),
      );
      memo.set(repository, hit);
    }
    return hit;
  };
}

/**
 * The images `protect.images` and the planning options' in-use references name, with why each
 * stays (`protect.images` wins when both name one).
 */
function protectedImagesOf(
  graph: ImageGraph,
  ids: readonly string[],
  protect: ProtectOptions,
  warnings: PlanWarning[],
): Map<string, string> {
  const by = new Map<string, string>();
  const host = protect.registryHost !== undefined ? { registryHost: protect.registryHost } : {};
  if (protect.protectImages && protect.protectImages.length > 0) {
    const source = protect.protectImagesSource ?? 'protectImages';
    const inUse = resolveImageReferences(graph, protect.protectImages, { ...host, source });
    warnings.push(...inUse.warnings);
    for (const image of inUse.images) by.set(image, `in use, per ${source}`);
  }
  const listed = resolveImageReferences(graph, ids, { ...host, source: 'protect.images' });
  warnings.push(...listed.warnings);
  for (const image of listed.images) by.set(image, 'protect.images');
  return by;
}

/** Sorts tags ascending by the rule's order ("newest" last). */
type Rank = (list: TagEntry[]) => TagEntry[];

/** Sorts by a key computed once per tag, then by tag id, so the order is total. */
function sortKeyed<K>(
  list: readonly TagEntry[],
  key: (entry: TagEntry) => K,
  compare: (x: K, y: K, a: TagEntry, b: TagEntry) => number,
): TagEntry[] {
  const keyed = list.map((entry) => ({ entry, key: key(entry) }));
  keyed.sort(
    (p, q) => compare(p.key, q.key, p.entry, q.entry) || compareIds(p.entry.tag, q.entry.tag),
  );
  return keyed.map((p) => p.entry);
}

function orderOf(rule: CompiledRule, dates: DateBook): Rank {
  if (rule.orderBy === 'semver') {
    return (list) =>
      sortKeyed(
        list,
        (e) => parseSemver(e.name),
        (x, y, a, b) => compareSemverKeyed(x, y, a.name, b.name),
      );
  }
  if (rule.orderBy === 'name') {
    return (list) =>
      sortKeyed(
        list,
        (e) => naturalChunks(e.name),
        (x, y, a, b) => compareChunks(x, y) || compareIds(a.name, b.name),
      );
  }
  // Unknown dates sort as oldest; equal times fall back to the other age source (a state file
  // gives every image of its first run one time), then to natural order of the names.
  const cmp = (x: number, y: number) => (x < y ? -1 : x > y ? 1 : 0);
  return (list) =>
    sortKeyed(
      list,
      (e) => [dates.dateOf(e.image).ms ?? Number.NEGATIVE_INFINITY, dates.tiebreak(e.image)],
      (x, y, a, b) =>
        cmp(x[0] as number, y[0] as number) ||
        cmp(x[1] as number, y[1] as number) ||
        compareNatural(a.name, b.name),
    );
}

/**
 * Keeps the `keepNewest` newest images of each group: an image ranks by its best matching tag in
 * the group, and every matching tag of a kept image stays (one image, one slot).
 */
function keepNewest(
  rule: CompiledRule,
  n: number,
  repository: string,
  candidates: readonly TagEntry[],
  rank: Rank,
  keep: (tag: string, reason: string) => void,
): void {
  const groups = new Map<string | null, TagEntry[]>();
  for (const entry of candidates) {
    let key: string | null = null;
    if (rule.groupBy) {
      // Validation guarantees at least one capture group.
      const match = rule.groupBy.exec(entry.name);
      if (match)
        key = match
          .slice(1)
          .map((g) => g ?? '')
          .join(', ');
    }
    const list = groups.get(key);
    if (list) list.push(entry);
    else groups.set(key, [entry]);
  }
  const where = inRepository(repository);
  for (const [key, members] of groups) {
    const list = rank(members);
    // Walking from the newest end, an image's first tag is its best; that fixes its rank.
    const imageRank = new Map<string, number>();
    for (let i = list.length - 1; i >= 0; i--) {
      const image = (list[i] as TagEntry).image;
      if (!imageRank.has(image)) imageRank.set(image, imageRank.size + 1);
    }
    const group = !rule.groupBy
      ? ''
      : key === null
        ? ', tags groupBy does not match'
        : `, group ${JSON.stringify(key)}`;
    const images = imageRank.size;
    for (const entry of list) {
      const r = imageRank.get(entry.image) as number;
      if (r > n) continue;
      keep(
        entry.tag,
        `rule ${rule.number} keepNewest ${n} (rank ${r} of ${images} image${images === 1 ? '' : 's'}${where}${group})`,
      );
    }
  }
}

/**
 * The first matcher that matches `name`, or `undefined`; marks in `hits` every matcher that does
 * (matchers already marked are skipped once a match is found, so the cost stays near `find`).
 */
function firstHit(
  matchers: readonly Matcher[],
  hits: Uint8Array,
  name: string,
): Matcher | undefined {
  let first: Matcher | undefined;
  for (let i = 0; i < matchers.length; i++) {
    if (first && hits[i]) continue;
    const m = matchers[i] as Matcher;
    if (m.test(name)) {
      hits[i] = 1;
      first ??= m;
    }
  }
  return first;
}

/**
 * After a rule ran: warns for its repository globs and tag patterns that matched nothing, and
 * throws for a literal `tags` or `keepTags` entry that named no tag. A rule whose repositories
 * match no repository of the graph has only the repository warnings: its literals cannot be
 * judged against nothing.
 */
function checkRule(
  rule: CompiledRule,
  repositories: ReadonlySet<string>,
  byRepository: ReadonlyMap<string, readonly TagEntry[]>,
  tagHits: Uint8Array,
  keepHits: Uint8Array,
  dropHits: Uint8Array,
  warnings: PlanWarning[],
): void {
  const index = rule.number - 1;
  const globs = rule.repositories;
  let covered: string[] = [...repositories];
  if (globs) {
    const hits = new Uint8Array(globs.length);
    covered = covered.filter((repository) => {
      let any = false;
      globs.forEach((m, i) => {
        if (m.test(repository)) {
          hits[i] = 1;
          any = true;
        }
      });
      return any;
    });
    checkRepositoryEntries(globs, hits, `rules[${index}].repositories`, warnings);
  }
  if (covered.length === 0) return;
  const namesIn = (select: boolean) => () =>
    covered.flatMap((repository) =>
      (byRepository.get(repository) ?? [])
        .filter((e) => !select || !rule.tags || rule.tags.some((m) => m.test(e.name)))
        .map((e) => e.name),
    );
  if (rule.tags) {
    checkTagEntries(
      rule.tags,
      tagHits,
      {
        list: `rules[${index}].tags`,
        scope: `the tags of the repositories rule ${rule.number} covers`,
      },
      namesIn(false),
      warnings,
    );
  }
  checkTagEntries(
    rule.keepTags,
    keepHits,
    { list: `rules[${index}].keepTags`, scope: `the tags rule ${rule.number} selects` },
    namesIn(true),
    warnings,
  );
  if (rule.dropTags) {
    checkTagEntries(
      rule.dropTags,
      dropHits,
      {
        list: `rules[${index}].dropTags`,
        scope: `the tags rule ${rule.number} selects`,
        why: 'A drop entry naming no tag is refused, as --drop is, because a typo there would leave the tag meant to go',
      },
      namesIn(true),
      warnings,
    );
  }
}

/**
 * Applies the rules to every tag. Out-of-scope and protected tags are decided first; then each
 * rule in turn, and the first criterion that keeps a tag gives its reason. @internal
 */
export function evaluatePolicy(
  graph: ImageGraph,
  compiled: CompiledPolicy,
  now: number | null,
  protect: ProtectOptions = {},
): Evaluation {
  const warnings: PlanWarning[] = [];
  const dates = new DateBook(graph, compiled.age);
  const unknownDates = new Map<string, string>();
  const inScope = inScopeOf(compiled.rules);
  const outOfScope = new Set<string>();
  const byRepository = new Map<string, TagEntry[]>();
  const allTags = graph.tags();
  const repositories = new Set<string>();
  for (const tag of allTags) {
    const repository = repositoryOfTag(tag);
    repositories.add(repository);
    if (!inScope(repository)) {
      outOfScope.add(repository);
      continue;
    }
    const entry: TagEntry = { tag, name: tagName(tag), image: graph.tagTarget(tag) as string };
    const list = byRepository.get(repository);
    if (list) list.push(entry);
    else byRepository.set(repository, [entry]);
  }
  for (const image of graph.images()) {
    const repository = repositoryOfImage(image);
    repositories.add(repository);
    if (!inScope(repository)) outOfScope.add(repository);
  }

  const reasons = new Map<string, { rule: number; reason: string }>();
  /** The first `dropTags` entry that matched each tag, as its reason when no rule keeps it. */
  const dropped = new Map<string, string>();
  for (const rule of compiled.rules) {
    const keep = (tag: string, reason: string) => {
      if (!reasons.has(tag)) reasons.set(tag, { rule: rule.number, reason });
    };
    const rank = orderOf(rule, dates);
    const covers = (repository: string) =>
      !rule.repositories || rule.repositories.some((m) => m.test(repository));
    const tagsOf = rule.tags;
    // Which entries matched anything, so that typos surface (see unmatched.ts).
    const tagHits = new Uint8Array(tagsOf?.length ?? 0);
    const keepHits = new Uint8Array(rule.keepTags.length);
    const dropHits = new Uint8Array(rule.dropTags?.length ?? 0);
    for (const [repository, entries] of byRepository) {
      if (!covers(repository)) continue;
      const candidates = tagsOf
        ? entries.filter((e) => firstHit(tagsOf, tagHits, e.name))
        : entries;
      for (const entry of candidates) {
        const hit = firstHit(rule.keepTags, keepHits, entry.name);
        if (hit) keep(entry.tag, `rule ${rule.number} keepTags ${JSON.stringify(hit.source)}`);
      }
      const drops = rule.dropTags;
      if (drops) {
        for (const entry of candidates) {
          const hit = firstHit(drops, dropHits, entry.name);
          if (!hit) keep(entry.tag, `rule ${rule.number} keeps every tag but dropTags`);
          else if (!dropped.has(entry.tag))
            dropped.set(entry.tag, `rule ${rule.number} dropTags ${JSON.stringify(hit.source)}`);
        }
      }
      if (rule.keepNewest !== null) {
        if (rule.orderBy === 'created') {
          // Record unknown dates even where a lone tag needs no comparison.
          for (const entry of candidates) {
            const date = dates.dateOf(entry.image);
            if (date.ms === null) unknownDates.set(entry.image, date.why);
          }
        }
        keepNewest(rule, rule.keepNewest, repository, candidates, rank, keep);
      }
      const young = rule.keepYoungerThan;
      if (young && now !== null) {
        for (const entry of candidates) {
          const date = dates.dateOf(entry.image);
          if (date.ms === null) unknownDates.set(entry.image, date.why);
          else if (now - date.ms < young.ms) {
            keep(
              entry.tag,
              `rule ${rule.number} keepYoungerThan ${young.text} (${date.source} ${new Date(date.ms).toISOString()})`,
            );
          }
        }
      }
    }
    checkRule(rule, repositories, byRepository, tagHits, keepHits, dropHits, warnings);
  }

  const protectedBy = protectedImagesOf(graph, compiled.protectImages, protect, warnings);
  const protectedImages = [...protectedBy.keys()].sort(compareIds);
  const decisions: TagDecision[] = [];
  const keptTags = new Set<string>();
  const protectHits = new Uint8Array(compiled.protectTags.length);
  for (const tag of allTags) {
    const name = tagName(tag);
    const image = graph.tagTarget(tag) as string;
    let decision: TagDecision;
    if (!inScope(repositoryOfTag(tag))) {
      decision = { tag, kept: true, rule: null, reason: OUT_OF_SCOPE };
    } else {
      const pattern = firstHit(compiled.protectTags, protectHits, name);
      const byRule = reasons.get(tag);
      if (pattern) {
        decision = {
          tag,
          kept: true,
          rule: null,
          reason: `protected (protect.tags ${JSON.stringify(pattern.source)})`,
        };
      } else if (protectedBy.has(image)) {
        const why = protectedBy.get(image) as string;
        decision = {
          tag,
          kept: true,
          rule: null,
          reason: `protected (its image ${image} is ${why === 'protect.images' ? 'in protect.images' : why})`,
        };
      } else if (byRule) {
        decision = { tag, kept: true, rule: byRule.rule, reason: byRule.reason };
      } else {
        decision = { tag, kept: false, rule: null, reason: dropped.get(tag) ?? NO_RULE };
      }
    }
    const ageSource = dates.sourceRead(image);
    if (ageSource) decision.ageSource = ageSource;
    if (decision.kept) keptTags.add(tag);
    decisions.push(decision);
  }
  // With nothing in scope there is nothing a typo could widen (and --repo may have selected
  // nothing, which the caller reports).
  if (byRepository.size > 0 || [...repositories].some(inScope)) {
    checkTagEntries(
      compiled.protectTags,
      protectHits,
      { list: 'protect.tags', scope: 'the tags of the repositories in policy scope' },
      () => [...byRepository.values()].flatMap((list) => list.map((e) => e.name)),
      warnings,
    );
  }
  return {
    decisions,
    keptTags,
    outOfScope,
    inScope,
    protectedImages,
    protectedBy,
    unknownDates,
    warnings,
    dates,
    now,
  };
}

/**
 * Decides, for every tag of the graph, whether the policy keeps it and why — the first half of
 * {@link planCleanup} with a policy, useful to scripts and to show a policy's effect.
 * Decisions are sorted by tag; `rule` is the 1-based number of the rule that kept the tag.
 *
 * @throws {InvalidPolicyError} when the policy is invalid, when it measures ages and
 *   `options.now` is missing, or when a literal `keepTags`, `tags` or `protect.tags` entry names
 *   no tag in its scope.
 * @example
 * ```ts
 * selectTags(graph, { rules: [{ keepNewest: 2, orderBy: 'name' }] })
 *   .filter((d) => !d.kept); // → tags no rule keeps
 * ```
 */
export function selectTags(
  graph: ImageGraph,
  policy: RetentionPolicy,
  options: PolicyPlanOptions = {},
): TagDecision[] {
  const compiled = compilePolicy(policy);
  return evaluatePolicy(graph, compiled, resolveNow(compiled, options), options).decisions;
}
