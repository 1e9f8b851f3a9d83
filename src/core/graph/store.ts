import { AdjacencyLists } from '../adjacency.js';
import { InvalidEdgeError } from '../errors/invalid-edge-error.js';
import { InvalidGraphError } from '../errors/invalid-graph-error.js';
import { UnknownImageError } from '../errors/unknown-image-error.js';
import { compareIds, digestSortKey, sortByIds } from '../sort.js';
import type { BlobRef, BlobRole, GraphWarning, ImageEdgeKind, ImageInfo } from '../types.js';
import { pathBetween } from './cycles.js';
import { TagTable } from './tags.js';

/** Edge kinds as small integers, packed into adjacency entries as `slot * 4 + kind`. */
export const KIND_PARENT = 0;
export const KIND_CHILD = 1;
export const KIND_REFERRER = 2;
export const KIND_NAMES: readonly ImageEdgeKind[] = ['parent', 'child', 'referrer'];

/**
 * Read-only view of an image graph's storage, used by the core algorithms.
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
  /** Blob ids by blob slot. A dropped blob keeps its id here (earlier plans still read it). */
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

/**
 * The compact storage behind an {@link ImageGraph}: images, blobs and tags as integer slots, edges
 * in adjacency arrays, so that graphs of a million images build and plan in seconds. It checks
 * every change (ids, unknown images, self-edges, cycles); slots of removed images and dropped
 * blobs are not reused.
 * @internal
 */
export class GraphStorage implements GraphStore {
  readonly slotOf = new Map<string, number>();
  readonly ids: (string | undefined)[] = [];
  readonly info: (ImageInfo | undefined)[] = [];
  readonly out = new AdjacencyLists();
  readonly in = new AdjacencyLists();
  readonly imageBlobs = new AdjacencyLists();
  readonly blobSlotOf = new Map<string, number>();
  readonly blobIds: string[] = [];
  readonly blobSize: (number | undefined)[] = [];
  readonly blobKey: number[] = [];
  /** How many images need each blob; a blob at 0 has been dropped. */
  readonly blobRefs: number[] = [];
  readonly tags = new TagTable();
  /** Graph warnings by `code` and `id`. */
  readonly warnings = new Map<string, GraphWarning>();
  liveCount = 0;
  #sorted: Int32Array | undefined;
  #sortedIds: string[] | undefined;
  #sortedRank: Int32Array | undefined;

  /** Adds an image or merges `info` into it; returns its slot. */
  addImage(id: string, info: ImageInfo | undefined): number {
    const existing = this.slotOf.get(id);
    if (existing !== undefined) {
      if (info) this.info[existing] = { ...this.info[existing], ...info };
      return existing;
    }
    checkId(id, 'image id');
    if (this.blobSlotOf.has(id)) {
      throw new InvalidGraphError('image id', `${JSON.stringify(id)} is already a blob id`);
    }
    const slot = this.ids.length;
    this.slotOf.set(id, slot);
    this.ids.push(id);
    this.info.push(info ? { ...info } : undefined);
    this.out.ensureSlots(slot + 1);
    this.in.ensureSlots(slot + 1);
    this.imageBlobs.ensureSlots(slot + 1);
    this.tags.addSlot();
    this.liveCount++;
    this.#sorted = undefined;
    return slot;
  }

  /**
   * Links image `slot` to blob `blobId` (`known`: the blob's slot when the caller has looked it
   * up). A bulk load passes `checkImageIds = false` and checks all blob ids once at the end.
   */
  linkBlob(
    slot: number,
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
      if (checkImageIds && this.slotOf.has(blobId)) {
        throw new InvalidGraphError('blob id', `${JSON.stringify(blobId)} is already an image id`);
      }
      blob = this.blobIds.length;
      this.blobSlotOf.set(blobId, blob);
      this.blobIds.push(blobId);
      this.blobSize.push(size);
      this.blobKey.push(digestSortKey(blobId));
      this.blobRefs.push(0);
    } else if (size !== undefined && this.blobSize[blob] === undefined) {
      this.blobSize[blob] = size;
    }
    const packed = blob * 2 + (role === 'layer' ? 1 : 0);
    const links = this.imageBlobs;
    // the same blob in the other role too: one need is enough
    if (links.includesEither(slot, packed, packed ^ 1)) return;
    links.add(slot, packed);
    this.blobRefs[blob] = (this.blobRefs[blob] as number) + 1;
  }

  /**
   * Adds the edge `from → to` of `kind`; the same edge again is a no-op. A bulk load passes
   * `checkCycle = false` and checks the whole graph once at the end.
   */
  addEdge(from: string, to: string, kind: number, checkCycle = true): void {
    const a = this.slotOf.get(from);
    const b = this.slotOf.get(to);
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
    const { head, next, value } = this.out;
    let joined = false;
    for (let e = head[a] as number; e !== -1; e = next[e] as number) {
      const v = value[e] as number;
      if (v === packed) return;
      if (v >> 2 === b) joined = true;
    }
    // An edge of another kind already joins the pair, so this one cannot close a new cycle.
    if (checkCycle && !joined) {
      const cycle = pathBetween(this.out, b, a);
      if (cycle) {
        const ids = [from, ...cycle.map((s) => this.ids[s] as string)];
        throw new InvalidEdgeError(
          'CYCLE',
          ids,
          `${name} edge ${JSON.stringify(from)} → ${JSON.stringify(to)} would close a cycle: ${ids.join(' → ')}`,
        );
      }
    }
    this.out.add(a, packed);
    this.in.add(b, a * 4 + kind);
  }

  /** Points `tag` at `image`, moving it if it points elsewhere. */
  setTag(tag: string, image: string): void {
    const slot = this.slotOf.get(image);
    if (slot === undefined) throw new UnknownImageError([image], `setTag(${JSON.stringify(tag)})`);
    checkId(tag, 'tag');
    this.tags.set(tag, slot);
  }

  /** Removes an image with its edges, blob links and tags, and the blobs no image needs any more. */
  removeImage(id: string): boolean {
    const slot = this.slotOf.get(id);
    if (slot === undefined) return false;
    this.tags.removeSlot(slot);
    for (const packed of this.out.values(slot))
      this.in.remove(Math.floor(packed / 4), slot * 4 + (packed % 4));
    for (const packed of this.in.values(slot))
      this.out.remove(Math.floor(packed / 4), slot * 4 + (packed % 4));
    this.out.clear(slot);
    this.in.clear(slot);
    for (const packed of this.imageBlobs.values(slot)) {
      const blob = packed >> 1;
      const refs = (this.blobRefs[blob] as number) - 1;
      this.blobRefs[blob] = refs;
      // The id stays at its slot: sections of earlier plans still read it from there.
      if (refs === 0) this.blobSlotOf.delete(this.blobIds[blob] as string);
    }
    this.imageBlobs.clear(slot);
    this.info[slot] = undefined;
    this.ids[slot] = undefined;
    this.slotOf.delete(id);
    this.liveCount--;
    this.#sorted = undefined;
    return true;
  }

  addWarning(warning: GraphWarning): void {
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
    this.warnings.set(`${code}\u0000${id}`, { code, id, message });
  }

  /** The warnings sorted by id, then code (copies). */
  sortedWarnings(): GraphWarning[] {
    return [...this.warnings.values()]
      .sort((a, b) => compareIds(a.id, b.id) || compareIds(a.code, b.code))
      .map((w) => ({ ...w }));
  }

  /** Whether blob slot `blob` is still needed by some image. */
  isLiveBlob(blob: number): boolean {
    return (this.blobRefs[blob] as number) > 0;
  }

  /** The blobs of image `slot`, sorted by id. */
  blobsOf(slot: number): BlobRef[] {
    return this.imageBlobs
      .values(slot)
      .map((p) => ({
        id: this.blobIds[p >> 1] as string,
        role: (p & 1 ? 'layer' : 'config') as BlobRole,
        size: this.blobSize[p >> 1],
      }))
      .sort((a, b) => compareIds(a.id, b.id));
  }

  /** The ids `id` is joined to by `kind` edges in `lists` (`out` or `in`), sorted. */
  neighbours(id: string, kind: ImageEdgeKind, lists: AdjacencyLists): string[] {
    const slot = this.slotOf.get(id);
    if (slot === undefined) return [];
    const k = KIND_NAMES.indexOf(kind);
    return lists
      .values(slot)
      .filter((p) => p % 4 === k)
      .map((p) => this.ids[Math.floor(p / 4)] as string)
      .sort(compareIds);
  }

  sortedSlots(): Int32Array {
    if (this.#sorted) return this.#sorted;
    const live: number[] = [];
    for (let s = 0; s < this.ids.length; s++) if (this.ids[s] !== undefined) live.push(s);
    const sorted = Int32Array.from(live);
    sortByIds(sorted, this.ids);
    this.#sorted = sorted;
    this.#sortedIds = undefined;
    this.#sortedRank = undefined;
    return sorted;
  }

  sortedRank(): Int32Array {
    const sorted = this.sortedSlots();
    if (this.#sortedRank) return this.#sortedRank;
    const rank = new Int32Array(this.ids.length).fill(-1);
    for (let r = 0; r < sorted.length; r++) rank[sorted[r] as number] = r;
    this.#sortedRank = rank;
    return rank;
  }

  sortedIds(): readonly string[] {
    const sorted = this.sortedSlots();
    if (this.#sortedIds) return this.#sortedIds;
    const ids: string[] = new Array(sorted.length);
    for (let r = 0; r < sorted.length; r++) ids[r] = this.ids[sorted[r] as number] as string;
    this.#sortedIds = ids;
    return ids;
  }

  sortedTags(): readonly string[] {
    return this.tags.sorted();
  }

  sortedTagRanks(): Int32Array {
    return this.tags.sortedRanks(this.sortedRank());
  }

  flagSortedTags(names: Iterable<string>, flags: Uint8Array): string[] {
    return this.tags.flagSorted(names, flags);
  }
}

/** @throws {InvalidGraphError} naming `what` unless `id` is a non-empty string. */
export function checkId(id: unknown, what: string): void {
  if (typeof id !== 'string' || id.length === 0) {
    throw new InvalidGraphError(what, `must be a non-empty string, got ${JSON.stringify(id)}`);
  }
}
