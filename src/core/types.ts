/** Kinds of image-to-image edges. Each edge points from the image that needs (or is attached to) to the other. */
export type ImageEdgeKind = 'parent' | 'child' | 'referrer';

/** Kinds of every edge in {@link ImageGraph.toGraphology}'s graph, including image-to-blob edges. */
export type EdgeKind = ImageEdgeKind | 'blob';

/** What a blob is to the manifest that references it. */
export type BlobRole = 'config' | 'layer';

/** The platform a manifest is built for, as an index lists it. */
export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

/**
 * Optional facts about an image. The core only reads `created` and `pushed` (policy ages) and
 * `artifactType` (referrer rules).
 */
export interface ImageInfo {
  /** The manifest's media type, e.g. `application/vnd.oci.image.manifest.v1+json`. */
  mediaType?: string;
  /** Creation time as an ISO 8601 string. */
  created?: string;
  /**
   * When the registry received the image, as an ISO 8601 string, where a loader can know it: the
   * registry storage's revision link time (`loadGraph` with `storage`), the first run that saw the
   * image (`loadGraph` with a `previous` inventory), or a platform API that reports it (GHCR:
   * the package version's `created_at`). Policies with `age: pushed` measure ages from it.
   */
  pushed?: string;
  /** Size in bytes of the manifest itself. */
  size?: number;
  platform?: Platform;
  /** The artifact type of a referrer (signature, SBOM, attestation). */
  artifactType?: string;
  annotations?: Record<string, string>;
  /**
   * Set by a loader for content regprune cannot read (a manifest media type it does not know):
   * what the image needs, and whether something needs it, is unknown, so every plan keeps it with
   * this as the reason (e.g. `unknown media type application/x.foo`) and warns about it.
   */
  opaque?: string;
  /**
   * Problems a loader found in the image's content (an invalid annotation, a base image it could
   * not find); each becomes a plan warning about the image. They never change the plan.
   */
  warnings?: ImageWarning[];
}

/** A problem a loader found in one image's content (see {@link ImageInfo.warnings}). */
export interface ImageWarning {
  /** Stable code, e.g. `INVALID_BASE_DIGEST`; it becomes the plan warning's code. */
  code: string;
  message: string;
}

/** A blob reference of one image. */
export interface BlobRef {
  id: string;
  role: BlobRole;
  /** Size in bytes, when known. */
  size: number | undefined;
}

/** The serialised form of an {@link ImageGraph}: plain JSON, sorted, so equal graphs serialise equally. */
export interface ImageGraphJSON {
  format: 'regprune.graph.v1';
  /** Images sorted by id; `blobs` lists `[blobId, role]` pairs. */
  images: Array<{ id: string; info?: ImageInfo; blobs?: Array<[string, BlobRole]> }>;
  /** `[child, parent]` pairs. */
  parents: Array<[string, string]>;
  /** `[index, child]` pairs. */
  children: Array<[string, string]>;
  /** `[referrer, subject]` pairs. */
  referrers: Array<[string, string]>;
  /** Blob sizes in bytes by blob id (blobs of unknown size are absent). */
  blobSizes: Record<string, number>;
  /** Tag name to image id. */
  tags: Record<string, string>;
  /** Graph warnings (see {@link GraphWarning}), sorted; absent when there are none. */
  warnings?: GraphWarning[];
}

/**
 * Something a loader found that the graph cannot hold as an image or tag (a tag the registry lists
 * but whose manifest answers 404); every plan of the graph lists it as a warning.
 */
export interface GraphWarning {
  /** Stable code, e.g. `DANGLING_TAG`. */
  code: string;
  /** The tag or image concerned. */
  id: string;
  message: string;
}
