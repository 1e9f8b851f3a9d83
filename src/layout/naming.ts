/**
 * How layout graphs name things. A layout has no repository, so its images and tags live in the
 * repository `''` of the core's naming convention (see `repositoryOfImage`):
 * - an image (a manifest or index) is `@<digest>`, e.g. `@sha256:4f1c…` — the leading `@` keeps
 *   image ids apart from blob ids, which are bare digests (`sha256:…`);
 * - a tag is the `org.opencontainers.image.ref.name` annotation exactly as written, e.g. `v1.2.0`.
 */

/** The image id of a manifest or index in a layout graph: `@<digest>`. */
export function layoutImageId(digest: string): string {
  return `@${digest}`;
}

/** The digest of a layout image id (`@sha256:…` → `sha256:…`); a bare digest is returned as is. */
export function layoutDigest(id: string): string {
  return id.startsWith('@') ? id.slice(1) : id;
}
