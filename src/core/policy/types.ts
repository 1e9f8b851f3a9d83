import type { InvalidPolicyError } from '../errors/invalid-policy-error.js';
import type { ProtectOptions } from '../image-references.js';
import type { AgeSource } from '../plan-types.js';

/**
 * A retention policy: which tags to keep, what to protect, what to do with untagged images and
 * attachments, and safety caps. Plain data, loadable from JSON or YAML with `loadPolicy`.
 *
 * A tag is kept when **any** rule keeps it; within one rule, `keepTags`, `keepNewest` and
 * `keepYoungerThan` each keep on their own. Repositories that no rule's `repositories` matches
 * are out of scope: nothing in them is untagged or deleted.
 *
 * @example
 * ```ts
 * const policy: RetentionPolicy = {
 *   rules: [
 *     { repositories: ['app/**'], keepTags: ['latest', '/^v\\d+\\.\\d+\\.\\d+$/'] },
 *     { repositories: ['app/**'], groupBy: '^(.*)-\\d+$', orderBy: 'name', keepNewest: 10 },
 *   ],
 *   untagged: { keepYoungerThan: '7d' },
 *   maxDeletionRatio: 0.5,
 * };
 * ```
 */
export interface RetentionPolicy {
  /** Ignored by regprune; lets editors find the JSON Schema. */
  $schema?: string;
  /**
   * Which time of an image ages are measured from, for every criterion that reads one
   * (`keepNewest` with `orderBy: created`, `keepYoungerThan`, `untagged.keepYoungerThan`,
   * `untagged.keepNewest`). `created` (default): the build date in the image config. `pushed`:
   * when the registry received it, where the loader can tell (the storage folder's revision link
   * time, or the first run that saw the image in a state file, or a platform API). An image
   * lacking the chosen time uses the other one, with a plan warning naming it; images with equal
   * times rank by the other one.
   */
  age?: AgeSource;
  /** The rules (at least one). A tag is kept if any rule keeps it. */
  rules: RetentionRule[];
  /** Tags and images that are never untagged or deleted, whatever the rules say. */
  protect?: ProtectSpec;
  /**
   * Images that no tag points at and that nothing kept reaches. Without `keepYoungerThan` or
   * `keepNewest` they are **deleted**.
   */
  untagged?: UntaggedSpec;
  /**
   * `'follow-subject'` (default): referrers (signatures, SBOMs, attestations) stay exactly as long
   * as their subject. A list of `artifactType` patterns: referrers of those types are deleted even
   * when their subject stays, unless a kept tag reaches them directly.
   */
  referrers?: 'follow-subject' | string[];
  /** Refuse the plan when it would delete more images than this. Default: no cap. */
  maxDeletions?: number;
  /**
   * Refuse the plan when it would delete more than this fraction (0–1) of the images in scope.
   * Default: no cap.
   */
  maxDeletionRatio?: number;
}

/**
 * How `keepNewest` orders tags; "newest" is the end of the order. Under `semver`, tags that are not
 * versions rank oldest.
 */
export type OrderBy = 'created' | 'semver' | 'name';

/**
 * One rule. It first selects tags (`repositories`, then `tags`), then keeps some of them: those
 * matching `keepTags`, the `keepNewest` newest, and those younger than `keepYoungerThan`.
 */
export interface RetentionRule {
  /** Free text shown nowhere but in the policy; for people reading it. */
  description?: string;
  /**
   * Repository globs (`*` and `?` within one path segment, `**` across segments). Default: every
   * repository.
   */
  repositories?: string[];
  /**
   * Tag patterns selecting which tags this rule looks at (globs or `/regex/`). Default: all.
   * A literal entry (no `*` or `?`, not a `/regex/`) must name a tag of the repositories the rule
   * covers, or planning throws {@link InvalidPolicyError}; a pattern that selects nothing is a
   * plan warning.
   */
  tags?: string[];
  /**
   * Keep tags whose name matches any of these patterns (globs or `/regex/`). A literal entry (no
   * `*` or `?`, not a `/regex/`) that names no tag the rule selects makes planning throw
   * {@link InvalidPolicyError} naming the entry and the nearest existing tags, because a typo
   * there would delete what was meant to stay; write a tag that may not exist yet as a pattern
   * (`/^stable$/`). A pattern that matches nothing is a plan warning.
   */
  keepTags?: string[];
  /**
   * "Keep every tag except these": the rule keeps every tag it selects that none of these patterns
   * (globs or `/regex/`) match — the policy form of `--drop` / `planDropTags`. A dropped tag's
   * image still stays when another tag, a kept index or another rule needs it (then only the tag
   * goes). Stands alone: not combined with `keepTags`, `keepNewest` or `keepYoungerThan` in one
   * rule (add a rule to keep some of the dropped tags). A literal entry that names no tag the rule
   * selects makes planning throw {@link InvalidPolicyError}, as `--drop` does: a typo there would
   * leave the tag meant to go. A pattern that matches nothing is a plan warning.
   */
  dropTags?: string[];
  /**
   * Keep the N newest **images** among the selected tags of each repository (of each group with
   * `groupBy`), and every selected tag of those images. An image ranks by its best selected tag,
   * and uses one slot however many selected tags it carries.
   */
  keepNewest?: number;
  /**
   * A regex over the tag name with at least one capture group; `keepNewest` counts per value of
   * its capture groups (e.g. `^(.*)-\d+$` counts per branch). Tags it does not match are counted
   * together as one group. A regex without a capture group is refused.
   */
  groupBy?: string;
  /**
   * Order for `keepNewest`; "newest" is the end of the order. `created` (default): by the image's
   * age time (the policy's `age` source: creation date, or pushed time), unknown dates oldest. `semver`: by version precedence, pre-releases before
   * their release, and tags that are not versions oldest (so `latest` never takes a slot from a
   * version). `name`: natural order (`main-10` after `main-9`).
   */
  orderBy?: OrderBy;
  /**
   * Keep tags whose image's age (by the policy's `age` source: created, or pushed) is less than
   * this before `now`, e.g. `30d`.
   */
  keepYoungerThan?: string;
}

/** What a policy never lets go. */
export interface ProtectSpec {
  /**
   * Tag patterns (globs or `/regex/`, over the bare tag name). Their images stay too. A literal
   * entry that names no tag of the repositories in scope makes planning throw, as in `keepTags`.
   */
  tags?: string[];
  /**
   * Images never deleted, and their tags never removed: image ids (`repo@sha256:…`), digests
   * (`sha256:…`, any repository), or image references as clusters report them (`repo:tag`,
   * `host/repo:tag`, `host/repo@sha256:…`; a tag is resolved to the image it points at when the
   * plan is made). References naming another registry host (when the planning options give
   * `registryHost`) and ones the graph does not hold are plan warnings.
   */
  images?: string[];
}

/** What to do with images no tag points at and nothing kept reaches. */
export interface UntaggedSpec {
  /**
   * Grace period by the policy's `age` source (created, or pushed): younger untagged images stay.
   * Without it (or `keepNewest`) they are deleted.
   */
  keepYoungerThan?: string;
  /**
   * Keep the N newest untagged images of each repository, by the policy's `age` source (unknown
   * dates rank oldest; equal times by the other source, then by id). Keeps on its own beside `keepYoungerThan`. An index's platform
   * manifests follow their index and take no slot of their own; referrers follow their subject.
   */
  keepNewest?: number;
}

/** Options for planning with a policy (and the images in use it must keep, see {@link ProtectOptions}). */
export interface PolicyPlanOptions extends ProtectOptions {
  /**
   * The time the policy's ages are measured from (`Date`, ISO 8601 string or epoch milliseconds).
   * Required when the policy uses `keepYoungerThan`; the core never reads the clock.
   */
  now?: Date | string | number;
}
