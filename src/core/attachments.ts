/**
 * Rules for attachments that registries store as tags: cosign-style `sha256-<hex>.sig|.att|.sbom`
 * tags and the OCI referrers fallback tag `sha256-<hex>`. Pure decisions; adapters carry them out.
 */
import type { ImageGraph } from './image-graph.js';
import { imageId, repositoryOfImage, tagName } from './naming.js';
import type { CleanupPlan } from './plan-types.js';

/** What a bare tag name is. */
export type TagKind =
  | { kind: 'plain' }
  /** The OCI referrers fallback tag of `subject`: an index listing its referrers. */
  | { kind: 'fallback'; subject: string }
  /** A cosign-style signature, attestation or SBOM of `subject`. */
  | { kind: 'cosign'; subject: string; suffix: 'sig' | 'att' | 'sbom' };

const ATTACHMENT = /^sha256-([a-f0-9]{64})(?:\.(sig|att|sbom))?$/;

/**
 * Classifies a bare tag name. Attachment tags are not retention roots: they live and die with
 * their subject, so a policy must never be able to drop or keep them on their own.
 */
export function classifyTag(tag: string): TagKind {
  const match = ATTACHMENT.exec(tag);
  if (!match) return { kind: 'plain' };
  const subject = `sha256:${match[1]}`;
  const suffix = match[2] as 'sig' | 'att' | 'sbom' | undefined;
  return suffix ? { kind: 'cosign', subject, suffix } : { kind: 'fallback', subject };
}

/** The artifact type recorded for a cosign-style attachment (the types cosign itself uses). */
export function cosignArtifactType(suffix: 'sig' | 'att' | 'sbom'): string {
  return `application/vnd.dev.cosign.artifact.${suffix}.v1+json`;
}

/** What to do with a referrers fallback index after some of its referrers are deleted. */
export type FallbackIndexAction<T> =
  | { action: 'keep' }
  | { action: 'rewrite'; manifests: T[] }
  | { action: 'remove' };

/**
 * The fallback index of a subject lists referrers by digest. When some of them are deleted it is
 * rewritten without them; when none remain, or the subject itself is deleted, its tag goes.
 * Entries nobody deletes stay in their order (they may be referrers regprune never loaded).
 */
export function fallbackIndexAfterDeletes<T extends { digest: string }>(
  manifests: readonly T[],
  deleted: ReadonlySet<string>,
  subjectDeleted: boolean,
): FallbackIndexAction<T> {
  if (subjectDeleted) return { action: 'remove' };
  const remaining = manifests.filter((m) => !deleted.has(m.digest));
  if (remaining.length === manifests.length) return { action: 'keep' };
  if (remaining.length === 0) return { action: 'remove' };
  return { action: 'rewrite', manifests: remaining };
}

/**
 * The current tags that count as roots in the stale-plan re-check ({@link recheckPlan}): every
 * current tag except
 * - tags the plan lets go with a deleted image and that still point at that image (they go with it
 *   as planned), and
 * - attachment tags that `isModeledAttachment` says the graph already holds as attachments (they
 *   follow their subject instead of keeping it).
 * A tag that moved, or a new attachment, stays a root: it keeps what it reaches.
 */
export function recheckRoots(
  plan: CleanupPlan,
  current: Iterable<readonly [tag: string, image: string]>,
  isModeledAttachment: (tag: string, image: string) => boolean,
): Array<[string, string]> {
  const goesWith = new Map<string, string>();
  for (const op of plan.delete) for (const tag of op.tags) goesWith.set(tag, op.image);
  const out: Array<[string, string]> = [];
  for (const [tag, image] of current) {
    if (goesWith.get(tag) === image) continue;
    if (isModeledAttachment(tag, image)) continue;
    out.push([tag, image]);
  }
  return out;
}

/**
 * Deletions that must wait because something pointing at the image is still there: the plan puts
 * pointers first, so if one of them was skipped or failed, deleting the image would break it.
 * Returns, per blocked image, the pointer that blocks it.
 */
export function blockedByRemainingPointers(
  candidates: readonly string[],
  pointersOf: (image: string) => readonly string[],
  remains: (image: string) => boolean,
): Map<string, string> {
  const blocked = new Map<string, string>();
  for (const image of candidates) {
    const pointer = pointersOf(image).find(remains);
    if (pointer !== undefined) blocked.set(image, pointer);
  }
  return blocked;
}

/**
 * Whether `tag` (a tag id) on `image` is an attachment `graph` already holds as one: a fallback
 * tag of an image it has, or a cosign-style tag whose manifest it holds as a referrer of the
 * subject. Such a tag follows its subject; it is not a root of its own.
 */
export function isModeledAttachment(graph: ImageGraph, tag: string, image: string): boolean {
  const kind = classifyTag(tagName(tag));
  if (kind.kind === 'plain') return false;
  const subject = imageId(repositoryOfImage(image), kind.subject);
  if (kind.kind === 'fallback') return graph.hasImage(subject);
  if (!graph.hasImage(image)) return false;
  return graph.targetsOf(image, 'referrer').includes(subject);
}

/**
 * Whether `tag` (a tag id) on `image` is one the plan lets go with that image: one of its planned
 * tags, or an attachment the graph models. A DELETE that takes it takes nothing it should not.
 */
export function goesWithImage(
  plan: CleanupPlan,
  graph: ImageGraph,
  tag: string,
  image: string,
): boolean {
  return (
    recheckRoots(plan, [[tag, image]], (t, i) => isModeledAttachment(graph, t, i)).length === 0
  );
}
