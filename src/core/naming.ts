/**
 * Naming conventions of registry-shaped graphs: images are `repo@sha256:<hex>`, tags `repo:tag`.
 * Ids without those separators (the seed's `A`, `version1`) belong to the repository `''`.
 */

/** The repository of an image id `repo@digest`, or `''`. */
export function repositoryOfImage(id: string): string {
  const at = id.indexOf('@');
  return at < 0 ? '' : id.slice(0, at);
}

/** The repository of a tag id `repo:tag`, or `''`. Tags cannot hold `:`, so the last one splits. */
export function repositoryOfTag(tag: string): string {
  const colon = tag.lastIndexOf(':');
  return colon < 0 ? '' : tag.slice(0, colon);
}

/** The bare tag name of `repo:tag` (the whole id when it has no repository). */
export function tagName(tag: string): string {
  return tag.slice(tag.lastIndexOf(':') + 1);
}

/** The digest of `repo@digest` (the whole id when it has no repository). */
export function digestOfImage(id: string): string {
  return id.slice(id.indexOf('@') + 1);
}

/** `repo@digest`. */
export function imageId(repository: string, digest: string): string {
  return `${repository}@${digest}`;
}

/** `repo:tag`. */
export function tagId(repository: string, tag: string): string {
  return `${repository}:${tag}`;
}
