import type { ImageGraph } from '../core/image-graph.js';
import { digestOfImage, repositoryOfImage } from '../core/naming.js';
import { UnknownRefError } from './errors.js';

/** What a `<ref>` names: a tag, or images. */
export type ResolvedRef = { kind: 'tag'; tag: string } | { kind: 'images'; images: string[] };

const DIGEST_PREFIX = /^(?:sha256:)?([0-9a-f]{6,64})$/;

/**
 * Resolves `explain`'s `<ref>` against the graph: a tag; an image id (`repo@sha256:…`, `@sha256:…`);
 * a digest or a prefix of at least 6 hex digits, optionally after `repo@` — every image with that
 * digest (the same digest may live in several repositories).
 * @throws {UnknownRefError} when nothing matches, or a prefix matches different digests.
 */
export function resolveRef(graph: ImageGraph, ref: string): ResolvedRef {
  if (graph.hasTag(ref)) return { kind: 'tag', tag: ref };
  if (graph.hasImage(ref)) return { kind: 'images', images: [ref] };
  const at = ref.lastIndexOf('@');
  const repo = at >= 0 ? ref.slice(0, at) : undefined;
  const match = DIGEST_PREFIX.exec(at >= 0 ? ref.slice(at + 1) : ref);
  if (match) {
    const prefix = `sha256:${match[1]}`;
    const images = graph
      .images()
      .filter(
        (id) =>
          digestOfImage(id).startsWith(prefix) &&
          (repo === undefined || repositoryOfImage(id) === repo),
      );
    const digests = new Set(images.map(digestOfImage));
    if (digests.size > 1) {
      throw new UnknownRefError(
        ref,
        `matches ${digests.size} different digests (${[...digests].slice(0, 3).join(', ')}…); give more hex digits`,
      );
    }
    if (images.length > 0) return { kind: 'images', images };
  }
  throw new UnknownRefError(
    ref,
    `no tag or image of the target matches it (${graph.tags().length} tags, ${graph.images().length} images); name a tag as the target lists it (registries: repo:tag), an image id, or a digest prefix of at least 6 hex digits`,
  );
}
