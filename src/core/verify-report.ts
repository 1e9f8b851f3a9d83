/** What a verify found: the types shared by every adapter that can verify (see `CleanupTarget.verify`). */

/** What is broken. */
export type VerifyProblemKind =
  /** The tag is listed, but its manifest answers 404. */
  | 'dangling-tag'
  /** An index lists a manifest the registry does not have (a "partial" multi-arch image). */
  | 'missing-manifest'
  /** A manifest needs a config or layer blob the registry does not have. */
  | 'missing-blob'
  /** A signature, SBOM or other referrer whose subject is gone. */
  | 'missing-subject'
  /** A manifest that cannot be read (malformed JSON, wrong digest). */
  | 'unreadable';

/** One broken thing, with the tag it was found from. */
export interface VerifyProblem {
  kind: VerifyProblemKind;
  /** The tag (`repo:tag`) whose content is broken. */
  tag: string;
  /** The missing or broken thing: `repo@sha256:…` for manifests, `sha256:…` for blobs. */
  id: string;
  /** From the tag's image to the broken thing's holder (image ids). */
  path: string[];
  message: string;
}

/** What a verify (e.g. `verifyRegistry`) checked and found. */
export interface VerifyReport {
  /** The registry, as the client names it. */
  registry: string;
  /** Tags checked (`repo:tag`), sorted. */
  tags: string[];
  /** Distinct manifests and blobs checked. */
  checked: { manifests: number; blobs: number };
  /** Manifests of media types regprune cannot read, so their content was not followed. */
  opaque: string[];
  /** Every problem found, sorted by tag, then id. Empty when everything pulls. */
  problems: VerifyProblem[];
}
