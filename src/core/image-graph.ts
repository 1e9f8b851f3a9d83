// Over 400 lines: the store, the public facade, the JSON round trip and cycle detection share
// private fields (#slotOf, #tags, adjacency) on one class; issue 14 splits them into modules,
// measured with `npm run bench` before and after.
import { DirectedGraph } from 'graphology';
import { AdjacencyLists } from './adjacency.js';
import { InvalidEdgeError } from './errors/invalid-edge-error.js';
import { InvalidGraphError } from './errors/invalid-graph-error.js';
import { UnknownImageError } from './errors/unknown-image-error.js';
import { compareIds, digestSortKey, sortByIds } from './sort.js';
import type {
  BlobRef,
  BlobRole,
  EdgeKind,
  GraphWarning,
  ImageEdgeKind,
  ImageGraphJSON,
  ImageInfo,
} from './types.js';

/** Edge kinds as small integers, packed into adjacency entries as `slot * 4 + kind`. */
export const KIND_PARENT = 0;
export const KIND_CHILD = 1;
export const KIND_REFERRER = 2;
const KIND_NAMES: readonly ImageEdgeKind[] = ['parent', 'child', 'referrer'];

/** Node attributes of {@link ImageGraph.graph}. */
export interface GraphNodeAttributes {
  kind: 'image' | 'blob';
  /** Image info (images only). */
  info?: ImageInfo;
  /** Blob size in bytes (blobs only). */
  size?: number;
  /** Tags pointing at the image (images only), sorted. */
  tags?: string[];
}

/** Edge attributes of {@link ImageGraph.graph}. */
export interface GraphEdgeAttributes {
  /**
   * The edge's kind. A pair of images may be joined by several kinds at once (an index that lists
   * X and has X as its `subject`); the view holds one edge for the pair, and `kind` is the first of
   * them in the order `parent`, `child`, `referrer`.
   */
  kind: EdgeKind;
  /** Every image edge kind joining the pair, in that order; set only when there are several. */
  kinds?: ImageEdgeKind[];
  /** For blob edges: config or layer. */
  role?: BlobRole;
}

/**
 * Internal, read-only view of an {@link ImageGraph}'s storage used by the core algorithms.
 * Not part of the public API.
 * @internal
 */
export interface GraphStore {
  readonly ids: readonly (string | undefined)[];
  readonly info: readonly (ImageInfo | undefined)[];
  /** Outgoing image edges per slot, packed as `target * 4 + kind`. */
  readonly out: AdjacencyLists;
  /** Incoming image edges per slot, packed as `source * 4 + kind`. */
  readonly in: AdjacencyLists;
  /** Blobs per image slot, packed as `blobSlot * 2 + (role === 'layer' ? 1 : 0)`. */
  readonly imageBlobs: AdjacencyLists;
  readonly blobIds: readonly string[];
  readonly blobSize: readonly (number | undefined)[];
  /** Each blob's {@link digestSortKey}, so plans sort freed blobs without reading their ids. */
  readonly blobKey: readonly number[];
  readonly slotOf: ReadonlyMap<string, number>;
  /** Live image slots sorted by image id (cached until the image set changes). */
  sortedSlots(): Int32Array;
  /** Each slot's position in {@link GraphStore.sortedSlots}, -1 for a removed image (cached with it). */
  sortedRank(): Int32Array;
  /** The ids of {@link GraphStore.sortedSlots}, in the same order (cached with it). Do not mutate. */
  sortedIds(): readonly string[];
  /** All tag names, sorted (cached until a tag changes). Do not mutate. */
  sortedTags(): readonly string[];
  /** The image rank (see {@link GraphStore.sortedRank}) of each tag of {@link GraphStore.sortedTags}. */
  sortedTagRanks(): Int32Array;
  /**
   * Sets `flags[i]` for each name's position `i` in {@link GraphStore.sortedTags}; returns the
   * names that are not tags of the graph.
   */
  flagSortedTags(names: Iterable<string>, flags: Uint8Array): string[];
}

const stores = new WeakMap<ImageGraph, GraphStore>();

/** @internal */
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
 * build and plan in seconds. {@link ImageGraph.graph} exposes the same graph as a graphology
 * `DirectedGraph`, built on first access and kept in sync by every later mutation through this
 * class. Treat it as read-only: changes made to it directly are not seen by regprune.
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
  readonly #slotOf = new Map<string, number>();
  readonly #ids: (string | undefined)[] = [];
  readonly #info: (ImageInfo | undefined)[] = [];
  /** Outgoing image edges per slot, packed as `target * 4 + kind`. */
  readonly #out = new AdjacencyLists();
  /** Incoming image edges per slot, packed as `source * 4 + kind`. */
  readonly #in = new AdjacencyLists();
  /** Blobs per image slot, packed as `blobSlot * 2 + (role === 'layer' ? 1 : 0)`. */
  readonly #imageBlobs = new AdjacencyLists();
  readonly #blobSlotOf = new Map<string, number>();
  readonly #blobIds: string[] = [];
  readonly #blobSize: (number | undefined)[] = [];
  readonly #blobKey: number[] = [];
  /** How many images need each blob; a blob at 0 has been dropped (its slot is not reused). */
  readonly #blobRefs: number[] = [];
  /** Tag name → tag record; a record's name and image slot sit in the two arrays below. */
  readonly #tags = new Map<string, number>();
  readonly #tagName: (string | undefined)[] = [];
  readonly #tagSlot: number[] = [];
  readonly #freeTagRecords: number[] = [];
  readonly #tagsBySlot: (string[] | undefined)[] = [];
  #liveCount = 0;
  #sorted: Int32Array | undefined;
  #sortedIds: string[] | undefined;
  #sortedRank: Int32Array | undefined;
  #sortedTagRanks: Int32Array | undefined;
  #sortedTags: string[] | undefined;
  #sortedTagSlots: Int32Array | undefined;
  /** Each tag record's position in the sorted tag list (valid while that list is cached). */
  #tagPosition: Int32Array | undefined;
  #view: DirectedGraph<GraphNodeAttributes, GraphEdgeAttributes> | undefined;
  /** Graph warnings by `code` and `id`. */
  readonly #warnings = new Map<string, GraphWarning>();

  constructor() {
    stores.set(this, {
      ids: this.#ids,
      info: this.#info,
      out: this.#out,
      in: this.#in,
      imageBlobs: this.#imageBlobs,
      blobIds: this.#blobIds,
      blobSize: this.#blobSize,
      blobKey: this.#blobKey,
      slotOf: this.#slotOf,
      sortedSlots: () => this.#sortedSlots(),
      sortedIds: () => this.#sortedIdList(),
      sortedRank: () => this.#sortedRankList(),
      sortedTags: () => this.#sortedTagList(),
      sortedTagRanks: () => this.#sortedTagRankList(),
      flagSortedTags: (names, flags) => this.#flagSortedTags(names, flags),
    });
  }

  /**
   * The graph as a graphology `DirectedGraph`: image and blob nodes (attribute `kind`), edges
   * with attribute `kind` (`parent` | `child` | `referrer` | `blob`). Built on first access, then
   * kept in sync. Read-only by contract.
   */
  get graph(): DirectedGraph<GraphNodeAttributes, GraphEdgeAttributes> {
    if (!this.#view) this.#view = this.#buildView();
    return this.#view;
  }

  /** Number of images. */
  get size(): number {
    return this.#liveCount;
  }

  /**
   * Adds an image, or merges `info` into an existing one (fields given later win). Idempotent.
   * @throws {InvalidGraphError} when `id` is empty or already names a blob.
   */
  addImage(id: string, info?: ImageInfo): this {
    this.#addImageSlot(id, info);
    return this;
  }

  /** {@link ImageGraph.addImage}, returning the image's slot. */
  #addImageSlot(id: string, info: ImageInfo | undefined): number {
    const existing = this.#slotOf.get(id);
    if (existing !== undefined) {
      if (info) {
        const merged = { ...this.#info[existing], ...info };
        this.#info[existing] = merged;
        this.#view?.mergeNodeAttributes(id, { info: merged });
      }
      return existing;
    }
    checkId(id, 'image id');
    if (this.#blobSlotOf.has(id)) {
      throw new InvalidGraphError('image id', `${JSON.stringify(id)} is already a blob id`);
    }
    const slot = this.#ids.length;
    this.#slotOf.set(id, slot);
    this.#ids.push(id);
    this.#info.push(info ? { ...info } : undefined);
    this.#out.ensureSlots(slot + 1);
    this.#in.ensureSlots(slot + 1);
    this.#imageBlobs.ensureSlots(slot + 1);
    this.#tagsBySlot.push(undefined);
    this.#liveCount++;
    this.#sorted = undefined;
    this.#view?.addNode(id, info ? { kind: 'image', info: { ...info } } : { kind: 'image' });
    return slot;
  }

  /** `child` is built on `parent`. @throws {UnknownImageError} {@link InvalidEdgeError} */
  addParent(child: string, parent: string): this {
    this.#addEdge(child, parent, KIND_PARENT);
    return this;
  }

  /** The index (manifest list) `index` lists the manifest `child`. @throws {UnknownImageError} {@link InvalidEdgeError} */
  addChild(index: string, child: string): this {
    this.#addEdge(index, child, KIND_CHILD);
    return this;
  }

  /** `referrer` (signature, SBOM, attestation) is attached to `subject`. @throws {UnknownImageError} {@link InvalidEdgeError} */
  addReferrer(referrer: string, subject: string): this {
    this.#addEdge(referrer, subject, KIND_REFERRER);
    return this;
  }

  /**
   * `image` needs blob `blobId` (its config or one of its layers). Idempotent; a size given later
   * fills in an unknown one.
   * @throws {UnknownImageError} when `image` is not in the graph.
   */
  addBlob(image: string, blobId: string, options: { size?: number; role: BlobRole }): this {
    const slot = this.#slotOf.get(image);
    if (slot === undefined)
      throw new UnknownImageError(
        [image],
        `addBlob(${JSON.stringify(image)}, ${JSON.stringify(blobId)})`,
      );
    this.#linkBlob(slot, image, blobId, options.role, options.size, this.#blobSlotOf.get(blobId));
    return this;
  }

  /** {@link ImageGraph.addBlob} once the image's slot is known. */
  #linkBlob(
    slot: number,
    image: string,
    blobId: string,
    role: BlobRole,
    size: number | undefined,
    known: number | undefined,
    checkImageIds = true,
  ): void {
    if (role !== 'config' && role !== 'layer') {
      throw new InvalidGraphError(
        'addBlob role',
        `must be "config" or "layer", got ${JSON.stringify(role)}`,
      );
    }
    if (size !== undefined && !(Number.isSafeInteger(size) && size >= 0)) {
      throw new InvalidGraphError(
        'addBlob size',
        `must be a non-negative integer, got ${String(size)}`,
      );
    }
    let blob = known;
    if (blob === undefined) {
      checkId(blobId, 'blob id');
      if (checkImageIds && this.#slotOf.has(blobId)) {
        throw new InvalidGraphError('blob id', `${JSON.stringify(blobId)} is already an image id`);
      }
      blob = this.#blobIds.length;
      this.#blobSlotOf.set(blobId, blob);
      this.#blobIds.push(blobId);
      this.#blobSize.push(size);
      this.#blobKey.push(digestSortKey(blobId));
      this.#blobRefs.push(0);
      this.#view?.addNode(blobId, size === undefined ? { kind: 'blob' } : { kind: 'blob', size });
    } else if (size !== undefined && this.#blobSize[blob] === undefined) {
      this.#blobSize[blob] = size;
      this.#view?.mergeNodeAttributes(blobId, { size });
    }
    const packed = blob * 2 + (role === 'layer' ? 1 : 0);
    const links = this.#imageBlobs;
    // the same blob in the other role too: one need is enough
    if (links.includesEither(slot, packed, packed ^ 1)) return;
    links.add(slot, packed);
    this.#blobRefs[blob] = (this.#blobRefs[blob] as number) + 1;
    if (this.#view && !this.#view.hasEdge(image, blobId)) {
      this.#view.addDirectedEdge(image, blobId, { kind: 'blob', role });
    }
  }

  /** Points `tag` at `image`, moving it if it already points elsewhere (as a registry does). */
  setTag(tag: string, image: string): this {
    const slot = this.#slotOf.get(image);
    if (slot === undefined) throw new UnknownImageError([image], `setTag(${JSON.stringify(tag)})`);
    checkId(tag, 'tag');
    let record = this.#tags.get(tag);
    if (record !== undefined) {
      const old = this.#tagSlot[record] as number;
      if (old === slot) return this;
      this.#unlinkTag(tag, old);
    } else {
      record = this.#freeTagRecords.pop() ?? this.#tagName.length;
      this.#tagName[record] = tag;
      this.#tags.set(tag, record);
    }
    this.#tagSlot[record] = slot;
    this.#sortedTags = undefined;
    const list = this.#tagsBySlot[slot];
    if (list) list.push(tag);
    else this.#tagsBySlot[slot] = [tag];
    this.#syncViewTags(slot);
    return this;
  }

  /** Removes a tag. The image stays. Returns whether the tag existed. */
  removeTag(tag: string): boolean {
    const record = this.#tags.get(tag);
    if (record === undefined) return false;
    const slot = this.#tagSlot[record] as number;
    this.#dropTagRecord(tag, record);
    this.#unlinkTag(tag, slot);
    return true;
  }

  /** The image a tag points at, or `undefined`. */
  tagTarget(tag: string): string | undefined {
    const record = this.#tags.get(tag);
    return record === undefined ? undefined : this.#ids[this.#tagSlot[record] as number];
  }

  /** Tags pointing at `image`, sorted. Empty for an untagged or unknown image. */
  tagsOf(image: string): string[] {
    const slot = this.#slotOf.get(image);
    const list = slot === undefined ? undefined : this.#tagsBySlot[slot];
    return list ? [...list].sort(compareIds) : [];
  }

  /**
   * Records something a loader found that is no image or tag of the graph and does not change what
   * is kept: a tag whose manifest answers 404, a folder of an OCI layout that regprune leaves alone.
   * Every plan of the graph lists it. One per `code` and `id`: a later one replaces it.
   */
  addWarning(warning: GraphWarning): this {
    const { code, id, message } = warning;
    for (const [field, value] of [
      ['code', code],
      ['id', id],
      ['message', message],
    ] as const)
      if (typeof value !== 'string' || value === '')
        throw new InvalidGraphError(
          `warning ${field}`,
          `must be a non-empty string, got ${JSON.stringify(value)}`,
        );
    this.#warnings.set(`${code}\u0000${id}`, { code, id, message });
    return this;
  }

  /** The graph warnings, sorted by id, then code. */
  warnings(): GraphWarning[] {
    return [...this.#warnings.values()]
      .sort((a, b) => compareIds(a.id, b.id) || compareIds(a.code, b.code))
      .map((w) => ({ ...w }));
  }

  /** Whether the graph holds the image. */
  hasImage(id: string): boolean {
    return this.#slotOf.has(id);
  }

  /** Whether the graph holds the tag. */
  hasTag(tag: string): boolean {
    return this.#tags.has(tag);
  }

  /** The image's info, or `undefined`. */
  imageInfo(id: string): ImageInfo | undefined {
    const slot = this.#slotOf.get(id);
    return slot === undefined ? undefined : this.#info[slot];
  }

  /** All image ids, sorted. */
  images(): string[] {
    const sorted = this.#sortedSlots();
    const out = new Array<string>(sorted.length);
    for (let i = 0; i < sorted.length; i++) out[i] = this.#ids[sorted[i] as number] as string;
    return out;
  }

  /** All tag names, sorted. */
  tags(): string[] {
    return [...this.#sortedTagList()];
  }

  /** All blob ids, sorted. */
  blobs(): string[] {
    return this.#blobIds.filter((_, b) => (this.#blobRefs[b] as number) > 0).sort(compareIds);
  }

  /** The blobs `image` needs, sorted by id. */
  blobsOf(image: string): BlobRef[] {
    const slot = this.#slotOf.get(image);
    if (slot === undefined) return [];
    return this.#imageBlobs
      .values(slot)
      .map((p) => ({
        id: this.#blobIds[p >> 1] as string,
        role: (p & 1 ? 'layer' : 'config') as BlobRole,
        size: this.#blobSize[p >> 1],
      }))
      .sort((a, b) => compareIds(a.id, b.id));
  }

  /** Images `id` points at through edges of `kind` (its parents, children or subjects), sorted. */
  targetsOf(id: string, kind: ImageEdgeKind): string[] {
    return this.#neighbours(id, kind, this.#out);
  }

  /** Images pointing at `id` through edges of `kind` (its child images, indexes or referrers), sorted. */
  sourcesOf(id: string, kind: ImageEdgeKind): string[] {
    return this.#neighbours(id, kind, this.#in);
  }

  /**
   * Removes an image with its edges, blob links and tags. Blobs no image needs any more are
   * dropped too. Returns whether the image existed.
   */
  removeImage(id: string): boolean {
    const slot = this.#slotOf.get(id);
    if (slot === undefined) return false;
    const tags = this.#tagsBySlot[slot];
    if (tags) for (const tag of tags) this.#dropTagRecord(tag, this.#tags.get(tag) as number);
    this.#tagsBySlot[slot] = undefined;
    for (const packed of this.#out.values(slot))
      this.#in.remove(Math.floor(packed / 4), slot * 4 + (packed % 4));
    for (const packed of this.#in.values(slot))
      this.#out.remove(Math.floor(packed / 4), slot * 4 + (packed % 4));
    this.#out.clear(slot);
    this.#in.clear(slot);
    for (const packed of this.#imageBlobs.values(slot)) {
      const blob = packed >> 1;
      const refs = (this.#blobRefs[blob] as number) - 1;
      this.#blobRefs[blob] = refs;
      if (refs > 0) continue;
      // The id stays at its slot: sections of earlier plans still read it from there.
      const blobId = this.#blobIds[blob] as string;
      this.#blobSlotOf.delete(blobId);
      this.#view?.dropNode(blobId);
    }
    this.#imageBlobs.clear(slot);
    this.#info[slot] = undefined;
    this.#ids[slot] = undefined;
    this.#slotOf.delete(id);
    this.#liveCount--;
    this.#sorted = undefined;
    this.#view?.dropNode(id);
    return true;
  }

  /** A deep copy. */
  clone(): ImageGraph {
    return ImageGraph.fromJSON(this.toJSON());
  }

  /** The graph as plain, sorted JSON (see {@link ImageGraphJSON}). */
  toJSON(): ImageGraphJSON {
    const images: ImageGraphJSON['images'] = [];
    const parents: Array<[string, string]> = [];
    const children: Array<[string, string]> = [];
    const referrers: Array<[string, string]> = [];
    const buckets = [parents, children, referrers];
    const usedBlobs = new Set<number>();
    for (const slot of this.#sortedSlots()) {
      const id = this.#ids[slot] as string;
      const entry: ImageGraphJSON['images'][number] = { id };
      const info = this.#info[slot];
      if (info) entry.info = structuredClone(info);
      const blobs = this.#imageBlobs.values(slot);
      if (blobs.length > 0) {
        entry.blobs = blobs
          .map((p): [string, BlobRole] => {
            usedBlobs.add(p >> 1);
            return [this.#blobIds[p >> 1] as string, p & 1 ? 'layer' : 'config'];
          })
          .sort((a, b) => compareIds(a[0], b[0]));
      }
      images.push(entry);
      for (const packed of this.#out.values(slot)) {
        (buckets[packed % 4] as Array<[string, string]>).push([
          id,
          this.#ids[Math.floor(packed / 4)] as string,
        ]);
      }
    }
    const byPair = (a: [string, string], b: [string, string]) =>
      compareIds(a[0], b[0]) || compareIds(a[1], b[1]);
    for (const bucket of buckets) bucket.sort(byPair);
    const blobSizes: Record<string, number> = {};
    for (const blob of [...usedBlobs].sort((a, b) =>
      compareIds(this.#blobIds[a] as string, this.#blobIds[b] as string),
    )) {
      const size = this.#blobSize[blob];
      if (size !== undefined) blobSizes[this.#blobIds[blob] as string] = size;
    }
    const tags: Record<string, string> = {};
    const tagNames = this.#sortedTagList();
    const tagSlots = this.#sortedTagSlotList();
    for (let i = 0; i < tagNames.length; i++)
      tags[tagNames[i] as string] = this.#ids[tagSlots[i] as number] as string;
    const json: ImageGraphJSON = {
      format: 'regprune.graph.v1',
      images,
      parents,
      children,
      referrers,
      blobSizes,
      tags,
    };
    if (this.#warnings.size > 0) json.warnings = this.warnings();
    return json;
  }

  /**
   * Rebuilds a graph from {@link ImageGraph.toJSON} output (or a parsed JSON file of that shape).
   * Validates everything; edges are checked for cycles once, after all are added.
   * @throws {InvalidGraphError} naming the offending field; {@link UnknownImageError}, {@link InvalidEdgeError}.
   */
  static fromJSON(json: unknown): ImageGraph {
    const data = expectObject(json, '$');
    if (data.format !== 'regprune.graph.v1') {
      throw new InvalidGraphError(
        '$.format',
        `expected "regprune.graph.v1", got ${JSON.stringify(data.format)}`,
      );
    }
    const g = new ImageGraph();
    const blobSizes =
      data.blobSizes === undefined ? {} : expectObject(data.blobSizes, '$.blobSizes');
    const images = expectArray(data.images, '$.images');
    // Paths for error messages are built only when a check fails: building them for every valid
    // entry would cost more than the checks themselves on large graphs.
    const slots = new Int32Array(images.length);
    g.#reserve(data, images);
    for (let i = 0; i < images.length; i++) {
      const raw = images[i];
      const entry = isObject(raw) ? raw : expectObject(raw, `$.images[${i}]`);
      const id = isId(entry.id) ? entry.id : expectString(entry.id, `$.images[${i}].id`);
      const info = entry.info;
      slots[i] = g.#addImageSlot(
        id,
        info === undefined
          ? undefined
          : ((isObject(info) ? info : expectObject(info, `$.images[${i}].info`)) as ImageInfo),
      );
    }
    for (let i = 0; i < images.length; i++) {
      const entry = images[i] as Record<string, unknown>;
      if (entry.blobs === undefined) continue;
      const blobs = Array.isArray(entry.blobs)
        ? (entry.blobs as unknown[])
        : expectArray(entry.blobs, `$.images[${i}].blobs`);
      const slot = slots[i] as number;
      for (let j = 0; j < blobs.length; j++) {
        const raw = blobs[j];
        const pair = Array.isArray(raw) ? raw : expectArray(raw, `$.images[${i}].blobs[${j}]`);
        const blobId = isId(pair[0])
          ? pair[0]
          : expectString(pair[0], `$.images[${i}].blobs[${j}][0]`);
        // A blob's size is the same on every link, so it is read (and checked) on its first only.
        const known = g.#blobSlotOf.get(blobId);
        let size: unknown;
        if (known === undefined) {
          size = blobSizes[blobId];
          if (size !== undefined && typeof size !== 'number') {
            throw new InvalidGraphError(
              `$.blobSizes[${JSON.stringify(blobId)}]`,
              'must be a number',
            );
          }
        }
        g.#linkBlob(
          slot,
          entry.id as string,
          blobId,
          pair[1] as BlobRole,
          size as number | undefined,
          known,
          false,
        );
      }
    }
    g.#assertNoBlobIsAnImage();
    const kinds: Array<[string, number]> = [
      ['parents', KIND_PARENT],
      ['children', KIND_CHILD],
      ['referrers', KIND_REFERRER],
    ];
    for (const [field, kind] of kinds) {
      const pairs = data[field] === undefined ? [] : expectArray(data[field], `$.${field}`);
      for (let i = 0; i < pairs.length; i++) {
        const raw = pairs[i];
        const pair = Array.isArray(raw) ? raw : expectArray(raw, `$.${field}[${i}]`);
        g.#addEdge(
          isId(pair[0]) ? pair[0] : expectString(pair[0], `$.${field}[${i}][0]`),
          isId(pair[1]) ? pair[1] : expectString(pair[1], `$.${field}[${i}][1]`),
          kind,
          false,
        );
      }
    }
    g.#assertAcyclic();
    const tags = data.tags === undefined ? {} : expectObject(data.tags, '$.tags');
    for (const tag of Object.keys(tags)) {
      const target = tags[tag];
      g.setTag(tag, isId(target) ? target : expectString(target, `$.tags[${JSON.stringify(tag)}]`));
    }
    const warnings = data.warnings === undefined ? [] : expectArray(data.warnings, '$.warnings');
    for (let i = 0; i < warnings.length; i++) {
      const w = expectObject(warnings[i], `$.warnings[${i}]`);
      g.addWarning({
        code: expectString(w.code, `$.warnings[${i}].code`),
        id: expectString(w.id, `$.warnings[${i}].id`),
        message: expectString(w.message, `$.warnings[${i}].message`),
      });
    }
    return g;
  }

  #addEdge(from: string, to: string, kind: number, checkCycle = true): void {
    const a = this.#slotOf.get(from);
    const b = this.#slotOf.get(to);
    const name = KIND_NAMES[kind] as ImageEdgeKind;
    if (a === undefined || b === undefined) {
      const missing = [a === undefined ? from : undefined, b === undefined ? to : undefined].filter(
        (x): x is string => x !== undefined,
      );
      throw new UnknownImageError(
        missing,
        `${name} edge ${JSON.stringify(from)} → ${JSON.stringify(to)}`,
      );
    }
    if (a === b) {
      throw new InvalidEdgeError(
        'SELF_EDGE',
        [from],
        `${name} edge from ${JSON.stringify(from)} to itself`,
      );
    }
    const packed = b * 4 + kind;
    // Walked in place (no array per call): bulk builds add every edge through here.
    const { head, next, value } = this.#out;
    let joined = false;
    for (let e = head[a] as number; e !== -1; e = next[e] as number) {
      const v = value[e] as number;
      if (v === packed) return;
      if (v >> 2 === b) joined = true;
    }
    // An edge of another kind already joins the pair, so this one cannot close a new cycle.
    if (checkCycle && !joined) {
      const cycle = this.#pathBetween(b, a);
      if (cycle) {
        const ids = [from, ...cycle.map((s) => this.#ids[s] as string)];
        throw new InvalidEdgeError(
          'CYCLE',
          ids,
          `${name} edge ${JSON.stringify(from)} → ${JSON.stringify(to)} would close a cycle: ${ids.join(' → ')}`,
        );
      }
    }
    this.#out.add(a, packed);
    this.#in.add(b, a * 4 + kind);
    if (this.#view) this.#syncViewEdge(this.#view, a, b);
  }

  /** Adds or updates the view's one edge for the pair `a → b`, naming every kind that joins it. */
  #syncViewEdge(
    view: DirectedGraph<GraphNodeAttributes, GraphEdgeAttributes>,
    a: number,
    b: number,
  ): void {
    const { head, next, value } = this.#out;
    let mask = 0;
    for (let e = head[a] as number; e !== -1; e = next[e] as number) {
      const v = value[e] as number;
      if (v >> 2 === b) mask |= 1 << (v & 3);
    }
    const kinds = KIND_NAMES.filter((_, k) => mask & (1 << k));
    const attrs: GraphEdgeAttributes = { kind: kinds[0] as ImageEdgeKind };
    if (kinds.length > 1) attrs.kinds = kinds;
    const from = this.#ids[a] as string;
    const to = this.#ids[b] as string;
    const edge = view.edge(from, to);
    if (edge === undefined) view.addDirectedEdge(from, to, attrs);
    else view.replaceEdgeAttributes(edge, attrs);
  }

  /**
   * Sizes the adjacency arrays for a whole JSON graph up front: growing them by doubling allocates
   * large buffers again and again, and each one can set off a full garbage collection.
   */
  #reserve(data: Record<string, unknown>, images: unknown[]): void {
    const slots = this.#ids.length + images.length;
    this.#out.ensureSlots(slots);
    this.#in.ensureSlots(slots);
    this.#imageBlobs.ensureSlots(slots);
    let links = 0;
    for (const entry of images) {
      const blobs = isObject(entry) ? entry.blobs : undefined;
      if (Array.isArray(blobs)) links += blobs.length;
    }
    this.#imageBlobs.reserve(links);
    let edges = 0;
    for (const field of ['parents', 'children', 'referrers']) {
      const pairs = data[field];
      if (Array.isArray(pairs)) edges += pairs.length;
    }
    this.#out.reserve(edges);
    this.#in.reserve(edges);
  }

  /**
   * The check {@link ImageGraph.addBlob} makes per new blob, done once for a bulk load: looking up
   * each id of the smaller set in the other's map costs far less than one lookup per blob.
   */
  #assertNoBlobIsAnImage(): void {
    const clash =
      this.#liveCount <= this.#blobIds.length
        ? this.#ids.find((id) => id !== undefined && this.#blobSlotOf.has(id))
        : this.#blobIds.find((id) => this.#slotOf.has(id));
    if (clash !== undefined) {
      throw new InvalidGraphError('blob id', `${JSON.stringify(clash)} is already an image id`);
    }
  }

  /** A path of slots from `start` to `goal` over outgoing edges, or undefined. */
  #pathBetween(start: number, goal: number): number[] | undefined {
    const prev = new Map<number, number>([[start, -1]]);
    const stack = [start];
    while (stack.length > 0) {
      const slot = stack.pop() as number;
      if (slot === goal) {
        const path: number[] = [];
        for (let s = slot; s !== -1; s = prev.get(s) as number) path.push(s);
        return path.reverse();
      }
      for (const packed of this.#out.values(slot)) {
        const next = Math.floor(packed / 4);
        if (!prev.has(next)) {
          prev.set(next, slot);
          stack.push(next);
        }
      }
    }
    return undefined;
  }

  /** Kahn's algorithm over all image edges; reports one cycle when there is one. */
  #assertAcyclic(): void {
    const n = this.#ids.length;
    const { head, next, value } = this.#out;
    const indeg = new Int32Array(n);
    for (let s = 0; s < n; s++)
      for (let e = head[s] as number; e !== -1; e = next[e] as number) {
        const t = Math.floor((value[e] as number) / 4);
        indeg[t] = (indeg[t] as number) + 1;
      }
    const queue: number[] = [];
    for (let s = 0; s < n; s++) if (indeg[s] === 0) queue.push(s);
    let seen = 0;
    while (queue.length > 0) {
      const s = queue.pop() as number;
      seen++;
      for (let e = head[s] as number; e !== -1; e = next[e] as number) {
        const t = Math.floor((value[e] as number) / 4);
        indeg[t] = (indeg[t] as number) - 1;
        if (indeg[t] === 0) queue.push(t);
      }
    }
    if (seen === n) return;
    // Every slot left with indegree > 0 lies on or behind a cycle; walk forward until one repeats.
    let s = indeg.findIndex((d) => d > 0);
    const order: number[] = [];
    const at = new Map<number, number>();
    while (!at.has(s)) {
      at.set(s, order.length);
      order.push(s);
      const forward = this.#out
        .values(s)
        .map((p) => Math.floor(p / 4))
        .find((t) => (indeg[t] as number) > 0);
      s = forward as number;
    }
    const ids = [...order.slice(at.get(s)), s].map((x) => this.#ids[x] as string);
    throw new InvalidEdgeError('CYCLE', ids, `the edges form a cycle: ${ids.join(' → ')}`);
  }

  #neighbours(id: string, kind: ImageEdgeKind, lists: AdjacencyLists): string[] {
    const slot = this.#slotOf.get(id);
    if (slot === undefined) return [];
    const k = KIND_NAMES.indexOf(kind);
    return lists
      .values(slot)
      .filter((p) => p % 4 === k)
      .map((p) => this.#ids[Math.floor(p / 4)] as string)
      .sort(compareIds);
  }

  #unlinkTag(tag: string, slot: number): void {
    const list = this.#tagsBySlot[slot];
    if (list) {
      const i = list.indexOf(tag);
      if (i >= 0) list.splice(i, 1);
      if (list.length === 0) this.#tagsBySlot[slot] = undefined;
    }
    this.#syncViewTags(slot);
  }

  #syncViewTags(slot: number): void {
    if (!this.#view) return;
    const list = this.#tagsBySlot[slot];
    const id = this.#ids[slot] as string;
    if (list) this.#view.setNodeAttribute(id, 'tags', [...list].sort(compareIds));
    else this.#view.removeNodeAttribute(id, 'tags');
  }

  #dropTagRecord(tag: string, record: number): void {
    this.#tags.delete(tag);
    this.#tagName[record] = undefined;
    this.#tagSlot[record] = -1;
    this.#freeTagRecords.push(record);
    this.#sortedTags = undefined;
  }

  /** Sorts the tag records by name once, filling the names, slots and positions together. */
  #sortedTagList(): string[] {
    if (this.#sortedTags) return this.#sortedTags;
    const names = this.#tagName;
    const order = new Int32Array(this.#tags.size);
    let at = 0;
    for (let record = 0; record < names.length; record++)
      if (names[record] !== undefined) order[at++] = record;
    sortByIds(order, names);
    const sorted: string[] = new Array(order.length);
    const slots = new Int32Array(order.length);
    const position = new Int32Array(names.length);
    for (let i = 0; i < order.length; i++) {
      const record = order[i] as number;
      sorted[i] = names[record] as string;
      slots[i] = this.#tagSlot[record] as number;
      position[record] = i;
    }
    this.#sortedTags = sorted;
    this.#sortedTagSlots = slots;
    this.#tagPosition = position;
    this.#sortedTagRanks = undefined;
    return sorted;
  }

  #sortedTagRankList(): Int32Array {
    const slots = this.#sortedTagSlotList();
    const rank = this.#sortedRankList();
    if (this.#sortedTagRanks) return this.#sortedTagRanks;
    const ranks = new Int32Array(slots.length);
    for (let i = 0; i < slots.length; i++) ranks[i] = rank[slots[i] as number] as number;
    this.#sortedTagRanks = ranks;
    return ranks;
  }

  #sortedTagSlotList(): Int32Array {
    this.#sortedTagList();
    return this.#sortedTagSlots as Int32Array;
  }

  #flagSortedTags(names: Iterable<string>, flags: Uint8Array): string[] {
    this.#sortedTagList();
    const tags = this.#tags;
    const position = this.#tagPosition as Int32Array;
    const unknown: string[] = [];
    for (const name of names) {
      const record = tags.get(name);
      if (record === undefined) unknown.push(name);
      else flags[position[record] as number] = 1;
    }
    return unknown;
  }

  #sortedSlots(): Int32Array {
    if (this.#sorted) return this.#sorted;
    const live: number[] = [];
    for (let s = 0; s < this.#ids.length; s++) if (this.#ids[s] !== undefined) live.push(s);
    const sorted = Int32Array.from(live);
    sortByIds(sorted, this.#ids);
    this.#sorted = sorted;
    this.#sortedIds = undefined;
    this.#sortedRank = undefined;
    this.#sortedTagRanks = undefined;
    return sorted;
  }

  #sortedRankList(): Int32Array {
    const sorted = this.#sortedSlots();
    if (this.#sortedRank) return this.#sortedRank;
    const rank = new Int32Array(this.#ids.length).fill(-1);
    for (let r = 0; r < sorted.length; r++) rank[sorted[r] as number] = r;
    this.#sortedRank = rank;
    return rank;
  }

  #sortedIdList(): string[] {
    const sorted = this.#sortedSlots();
    if (this.#sortedIds) return this.#sortedIds;
    const ids: string[] = new Array(sorted.length);
    for (let r = 0; r < sorted.length; r++) ids[r] = this.#ids[sorted[r] as number] as string;
    this.#sortedIds = ids;
    return ids;
  }

  #buildView(): DirectedGraph<GraphNodeAttributes, GraphEdgeAttributes> {
    const view = new DirectedGraph<GraphNodeAttributes, GraphEdgeAttributes>({
      allowSelfLoops: false,
    });
    for (const slot of this.#sortedSlots()) {
      const attrs: GraphNodeAttributes = { kind: 'image' };
      const info = this.#info[slot];
      if (info) attrs.info = { ...info };
      const tags = this.#tagsBySlot[slot];
      if (tags) attrs.tags = [...tags].sort(compareIds);
      view.addNode(this.#ids[slot] as string, attrs);
    }
    for (let b = 0; b < this.#blobIds.length; b++) {
      const size = this.#blobSize[b];
      view.addNode(
        this.#blobIds[b] as string,
        size === undefined ? { kind: 'blob' } : { kind: 'blob', size },
      );
    }
    for (const slot of this.#sortedSlots()) {
      const from = this.#ids[slot] as string;
      for (const p of this.#out.values(slot)) this.#syncViewEdge(view, slot, p >> 2);
      for (const p of this.#imageBlobs.values(slot)) {
        view.addDirectedEdge(from, this.#blobIds[p >> 1] as string, {
          kind: 'blob',
          role: p & 1 ? 'layer' : 'config',
        });
      }
    }
    return view;
  }
}

function checkId(id: unknown, what: string): void {
  if (typeof id !== 'string' || id.length === 0) {
    throw new InvalidGraphError(what, `must be a non-empty string, got ${JSON.stringify(id)}`);
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isId(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0;
}

function expectObject(value: unknown, path: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidGraphError(
      path,
      `must be an object, got ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}`,
    );
  }
  return value as Record<string, unknown>;
}

function expectArray(value: unknown, path: string): unknown[] {
  if (!Array.isArray(value))
    throw new InvalidGraphError(path, `must be an array, got ${typeof value}`);
  return value;
}

function expectString(value: unknown, path: string): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new InvalidGraphError(path, `must be a non-empty string, got ${JSON.stringify(value)}`);
  }
  return value;
}
