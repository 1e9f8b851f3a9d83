import type { DirectedGraph } from 'graphology';
import { UnknownImageError } from './errors/unknown-image-error.js';
import {
  buildGraphology,
  type GraphEdgeAttributes,
  type GraphNodeAttributes,
} from './graph/graphology.js';
import { graphToJSON, loadGraphJSON } from './graph/json.js';
import {
  GraphStorage,
  type GraphStore,
  KIND_CHILD,
  KIND_PARENT,
  KIND_REFERRER,
} from './graph/store.js';
import { compareIds } from './sort.js';
import type {
  BlobRef,
  BlobRole,
  GraphWarning,
  ImageEdgeKind,
  ImageGraphJSON,
  ImageInfo,
} from './types.js';

export type { GraphEdgeAttributes, GraphNodeAttributes };

const stores = new WeakMap<ImageGraph, GraphStorage>();

/**
 * The storage of `graph`, read-only, for the core algorithms.
 * @internal
 */
export function storeOf(graph: ImageGraph): GraphStore {
  const store = stores.get(graph);
  if (!store) throw new TypeError('expected an ImageGraph');
  return store;
}

/**
 * The image graph: images (nodes with opaque string ids), the edges between them (`parent`,
 * `child`, `referrer`), the blobs each image needs, and tags pointing at images.
 *
 * Every edge points from the image that needs the other to the image it needs: child image →
 * parent, index → platform manifest, referrer → subject, image → blob. A pair may be joined by
 * several kinds at once (an index that lists X and also has X as its `subject` is legal OCI
 * content); reachability follows their union. Self-edges and cycles are refused.
 *
 * Storage is compact (adjacency arrays indexed by integer slots) so that graphs of a million images
 * build and plan in seconds. {@link ImageGraph.toGraphology} copies the graph into a graphology
 * `DirectedGraph` for graphology's algorithms and exports.
 *
 * @example
 * ```ts
 * const g = new ImageGraph();
 * for (const id of ['A', 'B', 'C', 'D']) g.addImage(id);
 * g.addParent('B', 'A'); g.addParent('C', 'B'); g.addParent('D', 'C');
 * g.setTag('version1', 'C'); g.setTag('version2', 'D'); g.setTag('latest', 'D');
 * ```
 */
export class ImageGraph {
  readonly #store = new GraphStorage();

  constructor() {
    stores.set(this, this.#store);
  }

  /** Number of images. */
  get size(): number {
    return this.#store.liveCount;
  }

  /**
   * Adds an image, or merges `info` into an existing one (fields given later win). Idempotent.
   * @throws {InvalidGraphError} when `id` is empty or already names a blob.
   */
  addImage(id: string, info?: ImageInfo): this {
    this.#store.addImage(id, info);
    return this;
  }

  /** `child` is built on `parent`. @throws {UnknownImageError} {@link InvalidEdgeError} */
  addParent(child: string, parent: string): this {
    this.#store.addEdge(child, parent, KIND_PARENT);
    return this;
  }

  /** The index (manifest list) `index` lists the manifest `child`. @throws {UnknownImageError} {@link InvalidEdgeError} */
  addChild(index: string, child: string): this {
    this.#store.addEdge(index, child, KIND_CHILD);
    return this;
  }

  /** `referrer` (signature, SBOM, attestation) is attached to `subject`. @throws {UnknownImageError} {@link InvalidEdgeError} */
  addReferrer(referrer: string, subject: string): this {
    this.#store.addEdge(referrer, subject, KIND_REFERRER);
    return this;
  }

  /**
   * `image` needs blob `blobId` (its config or one of its layers). Idempotent; a size given later
   * fills in an unknown one.
   * @throws {UnknownImageError} when `image` is not in the graph.
   */
  addBlob(image: string, blobId: string, options: { size?: number; role: BlobRole }): this {
    const store = this.#store;
    const slot = store.slotOf.get(image);
    if (slot === undefined)
      throw new UnknownImageError(
        [image],
        `addBlob(${JSON.stringify(image)}, ${JSON.stringify(blobId)})`,
      );
    store.linkBlob(slot, blobId, options.role, options.size, store.blobSlotOf.get(blobId));
    return this;
  }

  /** Points `tag` at `image`, moving it if it already points elsewhere (as a registry does). */
  setTag(tag: string, image: string): this {
    this.#store.setTag(tag, image);
    return this;
  }

  /** Removes a tag. The image stays. Returns whether the tag existed. */
  removeTag(tag: string): boolean {
    return this.#store.tags.remove(tag);
  }

  /** The image a tag points at, or `undefined`. */
  tagTarget(tag: string): string | undefined {
    const slot = this.#store.tags.slotOf(tag);
    return slot === undefined ? undefined : this.#store.ids[slot];
  }

  /** Tags pointing at `image`, sorted. Empty for an untagged or unknown image. */
  tagsOf(image: string): string[] {
    const slot = this.#store.slotOf.get(image);
    return slot === undefined ? [] : this.#store.tags.ofSlot(slot);
  }

  /**
   * Records something a loader found that is no image or tag of the graph and does not change what
   * is kept: a tag whose manifest answers 404, a folder of an OCI layout that regprune leaves alone.
   * Every plan of the graph lists it. One per `code` and `id`: a later one replaces it.
   */
  addWarning(warning: GraphWarning): this {
    this.#store.addWarning(warning);
    return this;
  }

  /** The graph warnings, sorted by id, then code. */
  warnings(): GraphWarning[] {
    return this.#store.sortedWarnings();
  }

  /** Whether the graph holds the image. */
  hasImage(id: string): boolean {
    return this.#store.slotOf.has(id);
  }

  /** Whether the graph holds the tag. */
  hasTag(tag: string): boolean {
    return this.#store.tags.has(tag);
  }

  /** The image's info, or `undefined`. */
  imageInfo(id: string): ImageInfo | undefined {
    const slot = this.#store.slotOf.get(id);
    return slot === undefined ? undefined : this.#store.info[slot];
  }

  /** All image ids, sorted. */
  images(): string[] {
    return [...this.#store.sortedIds()];
  }

  /** All tag names, sorted. */
  tags(): string[] {
    return [...this.#store.tags.sorted()];
  }

  /** All blob ids that some image needs, sorted. */
  blobs(): string[] {
    const store = this.#store;
    return store.blobIds.filter((_, b) => store.isLiveBlob(b)).sort(compareIds);
  }

  /** The blobs `image` needs, sorted by id. */
  blobsOf(image: string): BlobRef[] {
    const slot = this.#store.slotOf.get(image);
    return slot === undefined ? [] : this.#store.blobsOf(slot);
  }

  /** Images `id` points at through edges of `kind` (its parents, children or subjects), sorted. */
  targetsOf(id: string, kind: ImageEdgeKind): string[] {
    return this.#store.neighbours(id, kind, this.#store.out);
  }

  /** Images pointing at `id` through edges of `kind` (its child images, indexes or referrers), sorted. */
  sourcesOf(id: string, kind: ImageEdgeKind): string[] {
    return this.#store.neighbours(id, kind, this.#store.in);
  }

  /**
   * Removes an image with its edges, blob links and tags. Blobs no image needs any more are
   * dropped too: {@link ImageGraph.blobs} no longer lists them. Returns whether the image existed.
   */
  removeImage(id: string): boolean {
    return this.#store.removeImage(id);
  }

  /** A deep copy. */
  clone(): ImageGraph {
    return ImageGraph.fromJSON(this.toJSON());
  }

  /**
   * The graph as a new graphology `DirectedGraph`, for graphology's algorithms and exports: image
   * nodes (attribute `kind: 'image'`, with `info` and sorted `tags` when present), blob nodes
   * (`kind: 'blob'`, with `size` when known), and one edge per joined pair (`kind`: `parent` |
   * `child` | `referrer` | `blob`; `kinds` when several image edge kinds join the pair; `role` on
   * blob edges). Nodes come sorted by id, images before blobs; edges by source, each source's image
   * edges by target before its blob edges by blob id; whatever order the graph was built in.
   *
   * It is a copy, built anew by each call (about as long as {@link ImageGraph.toJSON} takes):
   * changing it does not change this graph, and later changes to this graph do not show in it.
   */
  toGraphology(): DirectedGraph<GraphNodeAttributes, GraphEdgeAttributes> {
    return buildGraphology(this.#store);
  }

  /** The graph as plain, sorted JSON (see {@link ImageGraphJSON}). */
  toJSON(): ImageGraphJSON {
    return graphToJSON(this.#store);
  }

  /**
   * Rebuilds a graph from {@link ImageGraph.toJSON} output (or a parsed JSON file of that shape).
   * Validates everything; edges are checked for cycles once, after all are added.
   * @throws {InvalidGraphError} naming the offending field; {@link UnknownImageError}, {@link InvalidEdgeError}.
   */
  static fromJSON(json: unknown): ImageGraph {
    const graph = new ImageGraph();
    loadGraphJSON(graph.#store, json);
    return graph;
  }
}
