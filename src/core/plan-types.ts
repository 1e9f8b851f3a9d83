/**
 * How one step of a keep path reaches the next image:
 * `parent` (an image's parent), `child` (an index's platform manifest), `referrer` (a referrer
 * attached to a kept subject), `subject` (the subject of a kept referrer).
 */
export type PathEdge = 'parent' | 'child' | 'referrer' | 'subject';

/** An image that stays, with the first reason found for keeping it. */
export interface KeptImage {
  image: string;
  /** The kept tag the path starts from; `null` when something other than a tag keeps it (see `note`). */
  tag: string | null;
  /** Why the path's first image is kept when no tag is the reason (e.g. a policy's `protect`). */
  note?: string;
  /** Image ids from the kept root to this image, both included. */
  path: string[];
  /** `edges[i]` is how `path[i + 1]` is reached from `path[i]`. */
  edges: PathEdge[];
}

/** A tag that is removed while its image stays (another kept tag or a kept image still needs it). */
export interface UntagOperation {
  tag: string;
  image: string;
}

/** An image to delete. */
export interface DeleteOperation {
  image: string;
  /** Tags that go with it (a registry drops every tag on a deleted digest), sorted. */
  tags: string[];
  /**
   * Deletion wave: everything pointing at this image sits in an earlier wave, so the operations
   * of one wave can run concurrently once every earlier wave is done.
   */
  wave: number;
  mediaType?: string;
  /**
   * Set when a policy's `referrers` artifact-type list lets this referrer go on its own: it is
   * deleted although its subject may stay. The stale-plan re-check honours exactly these (a
   * current tag reaching the subject does not save them); every other referrer follows its subject.
   */
  detachedReferrer?: true;
}

/** A blob no kept image needs any more. */
export interface ReclaimableBlob {
  id: string;
  /** Size in bytes, `null` when unknown. */
  size: number | null;
}

/** Something the plan wants a person to know; it does not change the plan. */
export interface PlanWarning {
  /** Stable code, e.g. `UNKNOWN_DATE`. */
  code: string;
  /** The image or tag concerned. */
  id: string;
  message: string;
}

/**
 * Whether a tag is kept, and why. With a keep list the reason is `listed in keepTags` or
 * `not in keepTags`; with a policy it names the rule and criterion (`rule 2 keepNewest 10 (rank 3
 * of 41 images in app/api)`), or says `protected (…)`, `out of policy scope` or `no rule kept it`.
 */
export interface TagDecision {
  tag: string;
  kept: boolean;
  /** The 1-based number of the policy rule that kept the tag (`rules[rule - 1]`), else `null`. */
  rule: number | null;
  reason: string;
  /**
   * Where the age of the tag's image came from, when the policy read it (`keepNewest` by date,
   * `keepYoungerThan`): the policy's `age` source, or the other one when the image lacked it (a
   * plan warning names the image). Absent when no criterion read the age, or the image has none.
   */
  ageSource?: AgeSource;
}

/** Which time of an image a policy measures ages from (see `RetentionPolicy.age`). */
export type AgeSource = 'created' | 'pushed';

/**
 * Where a plan came from, recorded so that a saved plan describes itself: what it was made for and
 * from what. `regprune plan --format json` fills it in; `applyPlan` and `applyLayoutPlan` refuse a
 * plan whose `target` names another registry or layout.
 */
export interface PlanOrigin {
  /** The target the plan was made for, as the adapters describe it: `http://host:port` or `oci:/abs/dir`. */
  target: string;
  /** What decided it: a retention policy, a keep list, or a list of tags to drop. */
  basis: 'policy' | 'keep' | 'drop';
  /** `sha256:<hex>` of the policy file's bytes (policy plans). */
  policyDigest?: string;
  /** The keep list as given (keep-list plans). */
  keep?: string[];
  /** The tags to drop as given (`--drop` plans). */
  drop?: string[];
  /** The time ages were measured from, ISO 8601 (policy plans). */
  now?: string;
  /** The repository selection (`--repo`), when one narrowed the load. */
  repositories?: string[];
  /** When the plan was made, ISO 8601. */
  madeAt?: string;
}

/**
 * A cleanup plan: plain JSON in a stable order (it depends only on the graph's content, never on
 * the order images, edges or tags were added), so two plans of the same registry diff cleanly.
 *
 * A plan from `planCleanup` is decided when it is returned; its listing sections (`keptTags`,
 * `untag`, `delete`, `keep`, `blobs`, `tagDecisions`) are built on first read and then kept, so a
 * caller that needs only some of them does not pay for the rest. They behave as plain properties
 * (`JSON.stringify`, spread, `structuredClone`, assignment) and describe the graph as it was
 * when the plan was made, even if it changed since.
 */
export interface CleanupPlan {
  format: 'regprune.plan.v1';
  /** Tags that stay, sorted. */
  keptTags: string[];
  /** Tags to remove whose image stays, sorted by tag. */
  untag: UntagOperation[];
  /** Images to delete, in an order where whatever points at X comes before X. */
  delete: DeleteOperation[];
  /** Every image that stays, sorted by id, with its reason. */
  keep: KeptImage[];
  /** Blobs that only deleted images needed, sorted by id. */
  blobs: ReclaimableBlob[];
  /** Sum of the known sizes in `blobs`. */
  reclaimableBytes: number;
  summary: {
    images: number;
    tags: number;
    keptImages: number;
    deletedImages: number;
    untaggedTags: number;
    deletedTags: number;
  };
  /**
   * Every tag of the graph with whether it is kept and why, sorted by tag. `planCleanup` always
   * fills it; it is optional only so that plans made by older versions still type-check.
   */
  tagDecisions?: TagDecision[];
  /** Set when a safety cap refused the plan: adapters must not apply it. */
  refused: { reason: string } | null;
  warnings: PlanWarning[];
  /**
   * Tags the registry lists whose manifest answers 404 (`DANGLING_TAG` warnings), in repositories
   * the plan may change, sorted: apply removes them (a tag that points at a manifest again by then
   * is left alone). Absent when there are none.
   */
  danglingTags?: string[];
  /** Where the plan came from; absent for plans made without saying (e.g. a bare `planCleanup`). */
  origin?: PlanOrigin;
}
