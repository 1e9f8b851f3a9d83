import { type GraphStore, type ImageGraph, KIND_REFERRER, storeOf } from './image-graph.js';
import type {
  CleanupPlan,
  DeleteOperation,
  KeptImage,
  PathEdge,
  ReclaimableBlob,
  UntagOperation,
} from './plan-types.js';
import { sortByKeys } from './sort.js';

/** A root of the kept set: a kept tag's image, or an image kept for another reason. */
export interface Seed {
  image: string;
  tag: string | null;
  note?: string;
  /** The image's storage slot when the caller already knows it (saves a lookup per seed). */
  slot?: number;
}

/** Options of the plan engine that policies use. */
export interface EngineOptions {
  /**
   * Referrers for which this returns true are not kept merely because their subject is kept
   * (a policy's `referrers` artifact-type list). They still keep their subject when kept themselves.
   */
  detachReferrer?: (image: string) => boolean;
}

/**
 * The kept tags: names, or a flag per position of the graph's sorted tag list (which spares a
 * string lookup per tag of the graph).
 */
export type KeptTags = ReadonlySet<string> | Uint8Array;

const PATH_EDGES: readonly PathEdge[] = ['parent', 'child', 'subject', 'referrer'];
const NONE = -1;

/**
 * Computes the plan from roots. Linear in images + edges apart from sorting: one breadth-first
 * pass for the kept set (layers sorted by id, so reasons do not depend on insertion order), one
 * layered topological pass over the orphans for the delete order, one pass over blob links.
 * @internal
 */
export function computePlan(
  graph: ImageGraph,
  seeds: readonly Seed[],
  keptTags: KeptTags,
  options: EngineOptions = {},
): CleanupPlan {
  const store = storeOf(graph);
  const sorted = store.sortedSlots();
  const n = sorted.length;
  const rank = new Int32Array(store.ids.length).fill(NONE);
  for (let r = 0; r < n; r++) rank[sorted[r] as number] = r;

  const pred = new Int32Array(n).fill(NONE);
  const predEdge = new Uint8Array(n);
  const kept = new Uint8Array(n);
  const seedOf = new Int32Array(n).fill(NONE);
  const detached = detachedRanks(store, sorted, options.detachReferrer);

  let layer: number[] = [];
  for (let i = 0; i < seeds.length; i++) {
    const seed = seeds[i] as Seed;
    const slot = seed.slot ?? store.slotOf.get(seed.image);
    if (slot === undefined) continue;
    const r = rank[slot] as number;
    if (kept[r]) continue;
    kept[r] = 1;
    seedOf[r] = i;
    layer.push(r);
  }
  let keptCount = layer.length;
  while (layer.length > 0) {
    // a typed array sorts numerically in native code, without a comparator call per pair
    const ordered = Int32Array.from(layer).sort();
    const next: number[] = [];
    for (const r of ordered) {
      const slot = sorted[r] as number;
      const outs = store.out[slot];
      if (outs) {
        for (const p of outs) {
          const t = rank[Math.floor(p / 4)] as number;
          if (kept[t]) continue;
          kept[t] = 1;
          pred[t] = r;
          predEdge[t] = p % 4;
          next.push(t);
        }
      }
      const ins = store.in[slot];
      if (ins) {
        for (const p of ins) {
          if (p % 4 !== KIND_REFERRER) continue;
          const t = rank[Math.floor(p / 4)] as number;
          if (kept[t] || detached?.[t]) continue;
          kept[t] = 1;
          pred[t] = r;
          predEdge[t] = 3;
          next.push(t);
        }
      }
    }
    keptCount += next.length;
    layer = next;
  }

  const keep: KeptImage[] = new Array(keptCount);
  let k = 0;
  for (let r = 0; r < n; r++) {
    if (!kept[r]) continue;
    // walk to the seed once for the length, so path and edges are filled in place, root first
    let length = 1;
    let x = r;
    while (pred[x] !== NONE) {
      x = pred[x] as number;
      length++;
    }
    const seed = seeds[seedOf[x] as number] as Seed;
    const path: string[] = new Array(length);
    const edges: PathEdge[] = new Array(length - 1);
    x = r;
    for (let i = length - 1; i > 0; i--) {
      path[i] = store.ids[sorted[x] as number] as string;
      edges[i - 1] = PATH_EDGES[predEdge[x] as number] as PathEdge;
      x = pred[x] as number;
    }
    path[0] = store.ids[sorted[x] as number] as string;
    const entry: KeptImage = { image: path[length - 1] as string, tag: seed.tag, path, edges };
    if (seed.note !== undefined) entry.note = seed.note;
    keep[k++] = entry;
  }

  const deletions = deleteOrder(store, sorted, rank, kept, n - keptCount);
  const untag: UntagOperation[] = [];
  const allTags = store.sortedTags();
  const tagSlots = store.sortedTagSlots();
  const keptTagList: string[] = [];
  // The tags of each deleted image as a list threaded through tag positions: no map, no arrays.
  const firstTag = new Int32Array(n).fill(NONE);
  const lastTag = new Int32Array(n);
  const nextTag = new Int32Array(allTags.length).fill(NONE);
  const keptFlags = keptTags instanceof Uint8Array ? keptTags : undefined;
  const keptNames = keptTags instanceof Uint8Array ? undefined : keptTags;
  for (let i = 0; i < allTags.length; i++) {
    const tag = allTags[i] as string;
    const r = rank[tagSlots[i] as number] as number;
    const tagKept = keptFlags ? keptFlags[i] === 1 : (keptNames as ReadonlySet<string>).has(tag);
    if (tagKept) keptTagList.push(tag);
    if (!kept[r]) {
      if (firstTag[r] === NONE) firstTag[r] = i;
      else nextTag[lastTag[r] as number] = i;
      lastTag[r] = i;
    } else if (!tagKept) {
      untag.push({ tag, image: store.ids[sorted[r] as number] as string });
    }
  }
  let deletedTags = 0;
  const del: DeleteOperation[] = new Array(deletions.order.length);
  for (let i = 0; i < deletions.order.length; i++) {
    const r = deletions.order[i] as number;
    const slot = sorted[r] as number;
    const tags: string[] = [];
    for (let t = firstTag[r] as number; t !== NONE; t = nextTag[t] as number)
      tags.push(allTags[t] as string);
    deletedTags += tags.length;
    const op: DeleteOperation = {
      image: store.ids[slot] as string,
      tags,
      wave: deletions.wave[i] as number,
    };
    const mediaType = store.info[slot]?.mediaType;
    if (mediaType !== undefined) op.mediaType = mediaType;
    del[i] = op;
  }

  const { blobs, bytes } = reclaimableBlobs(store, sorted, kept);
  return {
    format: 'regprune.plan.v1',
    keptTags: keptTagList,
    untag,
    delete: del,
    keep,
    blobs,
    reclaimableBytes: bytes,
    summary: {
      images: n,
      tags: allTags.length,
      keptImages: keptCount,
      deletedImages: del.length,
      untaggedTags: untag.length,
      deletedTags,
    },
    refused: null,
    warnings: [],
  };
}

function detachedRanks(
  store: GraphStore,
  sorted: Int32Array,
  detach: ((image: string) => boolean) | undefined,
): Uint8Array | undefined {
  if (!detach) return undefined;
  const out = new Uint8Array(sorted.length);
  for (let r = 0; r < sorted.length; r++) {
    const slot = sorted[r] as number;
    const outs = store.out[slot];
    if (outs?.some((p) => p % 4 === KIND_REFERRER) && detach(store.ids[slot] as string)) out[r] = 1;
  }
  return out;
}

/**
 * Layered Kahn over the orphans: wave 0 holds orphans nothing orphaned points at; each later wave
 * holds those whose every orphaned pointer sits in an earlier wave. Kept images never point at
 * orphans (the kept set is closed under every edge), so only orphaned pointers count.
 */
function deleteOrder(
  store: GraphStore,
  sorted: Int32Array,
  rank: Int32Array,
  kept: Uint8Array,
  count: number,
): { order: Int32Array; wave: Int32Array } {
  const n = sorted.length;
  const indeg = new Int32Array(n);
  for (let r = 0; r < n; r++) {
    if (kept[r]) continue;
    const outs = store.out[sorted[r] as number];
    if (!outs) continue;
    for (const p of outs) {
      const t = rank[Math.floor(p / 4)] as number;
      indeg[t] = (indeg[t] as number) + 1;
    }
  }
  const order = new Int32Array(count);
  const wave = new Int32Array(count);
  let layer: number[] = [];
  for (let r = 0; r < n; r++) if (!kept[r] && indeg[r] === 0) layer.push(r);
  let at = 0;
  let w = 0;
  while (layer.length > 0) {
    const next: number[] = [];
    for (const r of layer) {
      order[at] = r;
      wave[at++] = w;
      const outs = store.out[sorted[r] as number];
      if (!outs) continue;
      for (const p of outs) {
        const t = rank[Math.floor(p / 4)] as number;
        if (kept[t]) continue;
        indeg[t] = (indeg[t] as number) - 1;
        if (indeg[t] === 0) next.push(t);
      }
    }
    layer = Array.from(Int32Array.from(next).sort());
    w++;
  }
  return { order, wave };
}

function reclaimableBlobs(
  store: GraphStore,
  sorted: Int32Array,
  kept: Uint8Array,
): { blobs: ReclaimableBlob[]; bytes: number } {
  const needed = new Uint8Array(store.blobIds.length);
  for (let r = 0; r < sorted.length; r++) {
    if (!kept[r]) continue;
    const list = store.imageBlobs[sorted[r] as number];
    if (list) for (const p of list) needed[p >> 1] = 1;
  }
  const ids = store.blobIds;
  const freed = new Int32Array(ids.length);
  let count = 0;
  for (let r = 0; r < sorted.length; r++) {
    if (kept[r]) continue;
    const list = store.imageBlobs[sorted[r] as number];
    if (!list) continue;
    for (const p of list) {
      const b = p >> 1;
      if (needed[b]) continue;
      needed[b] = 1; // count each blob once
      freed[count++] = b;
    }
  }
  const order = freed.subarray(0, count);
  sortByKeys(order, store.blobKey, ids);
  let bytes = 0;
  const blobs: ReclaimableBlob[] = new Array(order.length);
  for (let i = 0; i < order.length; i++) {
    const b = order[i] as number;
    const size = store.blobSize[b];
    if (size !== undefined) bytes += size;
    blobs[i] = { id: ids[b] as string, size: size ?? null };
  }
  return { blobs, bytes };
}
