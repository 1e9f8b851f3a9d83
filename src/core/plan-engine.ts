// Over 400 lines: one linear pass over typed arrays (kept set, deletion order, waves, freed blobs,
// lazy sections) that shares its arrays; splitting it would pass them around and is left to issue
// 14 with the core benchmark beside it.
import { type GraphStore, KIND_REFERRER } from './graph/store.js';
import { type ImageGraph, storeOf } from './image-graph.js';
import { defineLazySection } from './lazy-sections.js';
import type {
  CleanupPlan,
  DeleteOperation,
  KeptImage,
  PathEdge,
  PlanWarning,
  ReclaimableBlob,
  UntagOperation,
} from './plan-types.js';
import { compareIds, sortByKeys } from './sort.js';

/** A root of the kept set: a kept tag's image, or an image kept for another reason. */
export interface Seed {
  image: string;
  tag: string | null;
  note?: string;
}

/**
 * The roots of the kept set: seeds, or positions in the graph's sorted tag list (each kept tag's
 * image is a root, the tag its reason), which spares an object and a lookup per kept tag.
 */
export type Roots = readonly Seed[] | Int32Array;

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
/** `pred` of a root: ROOT - i for the root at index i (always negative). */
const ROOT = -1;

/**
 * Computes the plan from roots. Linear in images + edges apart from sorting: one breadth-first
 * pass for the kept set (layers sorted by id, so reasons do not depend on insertion order), one
 * layered topological pass over the orphans for the delete order, one pass over tags, one over
 * blob links. Everything is decided here, on typed arrays; the sections that list objects (`keep`,
 * `delete`, `untag`, `blobs`, `keptTags`) are built from those arrays on first read.
 * @internal
 */
export function computePlan(
  graph: ImageGraph,
  roots: Roots,
  keptTags: KeptTags,
  options: EngineOptions = {},
): CleanupPlan {
  const store = storeOf(graph);
  const sorted = store.sortedSlots();
  const ids = store.sortedIds();
  const n = sorted.length;
  const rank = store.sortedRank();
  const allTags = store.sortedTags();
  const tagRanks = store.sortedTagRanks();
  const loaded = loaderFindings(store, sorted);
  const graphWarnings = graph.warnings();
  // Opaque images come after the given roots, so a tag that reaches one stays its reason.
  if (loaded.opaque.length > 0)
    roots = [...seedsOf(roots, allTags, ids, tagRanks), ...loaded.opaque];

  const { kept, pred, predEdge, needed, keptCount } = keptSet(
    store,
    sorted,
    rank,
    rootRanks(store, rank, tagRanks, roots),
    detachedRanks(store, sorted, options.detachReferrer),
  );
  const deletions = deleteOrder(store, sorted, rank, kept, n - keptCount);

  // One pass over the sorted tags, from the last: which are kept (positions from the end of
  // `tagLists`), which are untagged (from its start), and how many go with deleted images.
  const tagCount = allTags.length;
  const tagLists = new Int32Array(tagCount);
  let keptTagCount = 0;
  let untagCount = 0;
  let deletedTags = 0;
  const keptFlags = keptTags instanceof Uint8Array ? keptTags : undefined;
  const keptNames = keptTags instanceof Uint8Array ? undefined : keptTags;
  for (let i = tagCount - 1; i >= 0; i--) {
    const tagKept = keptFlags
      ? keptFlags[i] === 1
      : (keptNames as ReadonlySet<string>).has(allTags[i] as string);
    if (tagKept) tagLists[tagCount - 1 - keptTagCount++] = i;
    if (!kept[tagRanks[i] as number]) deletedTags++;
    else if (!tagKept) tagLists[untagCount++] = i;
  }
  // Media types are read from a copy: the graph may change before the section is built (info
  // objects are replaced, never changed, so a copy of the array is a snapshot).
  const info = store.info.slice();
  const freed = freedBlobs(store, rank, kept, needed);
  const rootTag = rootLabels(roots, allTags);

  const plan: CleanupPlan = {
    format: 'regprune.plan.v1',
    keptTags: [],
    untag: [],
    delete: [],
    keep: [],
    blobs: [],
    reclaimableBytes: freed.bytes,
    summary: {
      images: n,
      tags: tagCount,
      keptImages: keptCount,
      deletedImages: deletions.order.length,
      untaggedTags: untagCount,
      deletedTags,
    },
    refused: null,
    warnings:
      graphWarnings.length > 0
        ? [...graphWarnings, ...loaded.warnings].sort(byIdThenCode)
        : loaded.warnings,
  };
  const dangling = graphWarnings.filter((w) => w.code === 'DANGLING_TAG').map((w) => w.id);
  if (dangling.length > 0) plan.danglingTags = [...new Set(dangling)].sort(compareIds);
  defineLazySection(plan, 'keptTags', () => {
    const out: string[] = new Array(keptTagCount);
    const first = tagCount - keptTagCount;
    for (let i = 0; i < keptTagCount; i++)
      out[i] = allTags[tagLists[first + i] as number] as string;
    return out;
  });
  defineLazySection(plan, 'untag', () => {
    const out: UntagOperation[] = new Array(untagCount);
    for (let i = 0; i < untagCount; i++) {
      const t = tagLists[untagCount - 1 - i] as number;
      out[i] = {
        tag: allTags[t] as string,
        image: ids[tagRanks[t] as number] as string,
      };
    }
    return out;
  });
  defineLazySection(plan, 'delete', () => {
    const { order, wave } = deletions;
    // the tags of each deleted image as a list threaded through tag positions, in order (no map,
    // no array per image); `allTags` and `tagRanks` are the graph's lists as they were at plan time
    const firstTag = new Int32Array(n).fill(NONE);
    const nextTag = new Int32Array(tagCount);
    for (let i = tagCount - 1; i >= 0; i--) {
      const r = tagRanks[i] as number;
      if (kept[r]) continue;
      nextTag[i] = firstTag[r] as number;
      firstTag[r] = i;
    }
    const out: DeleteOperation[] = new Array(order.length);
    for (let i = 0; i < order.length; i++) {
      const r = order[i] as number;
      const tags: string[] = [];
      for (let t = firstTag[r] as number; t !== NONE; t = nextTag[t] as number)
        tags.push(allTags[t] as string);
      const op: DeleteOperation = { image: ids[r] as string, tags, wave: wave[i] as number };
      const mediaType = info[sorted[r] as number]?.mediaType;
      if (mediaType !== undefined) op.mediaType = mediaType;
      out[i] = op;
    }
    return out;
  });
  defineLazySection(plan, 'keep', () => {
    const out: KeptImage[] = new Array(keptCount);
    let k = 0;
    for (let r = 0; r < n; r++) {
      if (!kept[r]) continue;
      // walk to the root once for the length, so path and edges are filled in place, root first
      let length = 1;
      let x = r;
      while ((pred[x] as number) >= 0) {
        x = pred[x] as number;
        length++;
      }
      const root = ROOT - (pred[x] as number);
      const path: string[] = new Array(length);
      const edges: PathEdge[] = new Array(length - 1);
      x = r;
      for (let i = length - 1; i > 0; i--) {
        path[i] = ids[x] as string;
        edges[i - 1] = PATH_EDGES[predEdge[x] as number] as PathEdge;
        x = pred[x] as number;
      }
      path[0] = ids[x] as string;
      const entry: KeptImage = { image: ids[r] as string, tag: rootTag.tag(root), path, edges };
      const note = rootTag.note(root);
      if (note !== undefined) entry.note = note;
      out[k++] = entry;
    }
    return out;
  });
  defineLazySection(plan, 'blobs', () => {
    const { blobs, sizes } = freed;
    const count = blobs.length;
    // sorted by id only here: the plan's decisions and bytes do not depend on the order
    const order = new Int32Array(count);
    const keys: number[] = new Array(count);
    const names: string[] = new Array(count);
    for (let i = 0; i < count; i++) {
      const b = blobs[i] as number;
      order[i] = i;
      keys[i] = store.blobKey[b] as number;
      names[i] = store.blobIds[b] as string;
    }
    sortByKeys(order, keys, names);
    const out: ReclaimableBlob[] = new Array(count);
    for (let i = 0; i < count; i++) {
      const at = order[i] as number;
      out[i] = { id: names[at] as string, size: sizes[at] ?? null };
    }
    return out;
  });
  return plan;
}

/**
 * What loaders recorded in image infos, in id order: the opaque images (kept, with their reason as
 * the note) and every image's warnings, opaque ones included.
 */
function loaderFindings(
  store: GraphStore,
  sorted: Int32Array,
): { opaque: Seed[]; warnings: PlanWarning[] } {
  const opaque: Seed[] = [];
  const warnings: PlanWarning[] = [];
  const info = store.info;
  for (let r = 0; r < sorted.length; r++) {
    const slot = sorted[r] as number;
    const entry = info[slot];
    if (entry === undefined || (entry.opaque === undefined && entry.warnings === undefined))
      continue;
    const image = store.ids[slot] as string;
    if (entry.opaque !== undefined) {
      opaque.push({ image, tag: null, note: entry.opaque });
      warnings.push({
        code: 'OPAQUE_IMAGE',
        id: image,
        message: `${image} is kept: ${entry.opaque}, so regprune cannot tell what it needs or what needs it`,
      });
    }
    for (const w of entry.warnings ?? [])
      warnings.push({ code: w.code, id: image, message: w.message });
  }
  return { opaque, warnings };
}

/** The roots as seeds (a tag position becomes its tag and the tag's image). */
function seedsOf(
  roots: Roots,
  allTags: readonly string[],
  ids: readonly string[],
  tagRanks: Int32Array,
): Seed[] {
  if (!(roots instanceof Int32Array)) return [...roots];
  const seeds: Seed[] = new Array(roots.length);
  for (let i = 0; i < roots.length; i++) {
    const position = roots[i] as number;
    seeds[i] = {
      image: ids[tagRanks[position] as number] as string,
      tag: allTags[position] as string,
    };
  }
  return seeds;
}

/** The sorted ranks the roots name, each with the root's index (so its tag or note can be found). */
function rootRanks(
  store: GraphStore,
  rank: Int32Array,
  tagRanks: Int32Array,
  roots: Roots,
): { ranks: Int32Array; index: Int32Array } {
  const count = roots.length;
  const ranks = new Int32Array(count);
  const index = new Int32Array(count);
  let at = 0;
  for (let i = 0; i < count; i++) {
    if (roots instanceof Int32Array) {
      ranks[at] = tagRanks[roots[i] as number] as number;
    } else {
      const slot = store.slotOf.get((roots[i] as Seed).image);
      if (slot === undefined) continue;
      ranks[at] = rank[slot] as number;
    }
    index[at++] = i;
  }
  return { ranks: ranks.subarray(0, at), index: index.subarray(0, at) };
}

/** Tag and note of each root, read from the roots as given. */
function rootLabels(
  roots: Roots,
  allTags: readonly string[],
): { tag: (i: number) => string | null; note: (i: number) => string | undefined } {
  if (roots instanceof Int32Array) {
    const positions = roots;
    return { tag: (i) => allTags[positions[i] as number] as string, note: () => undefined };
  }
  const seeds = [...roots]; // the caller's array may change before the keep section is built
  return {
    tag: (i) => (seeds[i] as Seed).tag,
    note: (i) => (seeds[i] as Seed).note,
  };
}

/**
 * The kept set: breadth-first from the roots over out-edges and, from kept subjects, to their
 * referrers. Each layer is visited in id order, so the first path found to an image — its reason —
 * depends only on the graph's content.
 */
function keptSet(
  store: GraphStore,
  sorted: Int32Array,
  rank: Int32Array,
  roots: { ranks: Int32Array; index: Int32Array },
  detached: Uint8Array | undefined,
): {
  kept: Uint8Array;
  pred: Int32Array;
  predEdge: Uint8Array;
  /** A flag per blob that a kept image needs. */
  needed: Uint8Array;
  keptCount: number;
} {
  const n = sorted.length;
  const needed = new Uint8Array(store.blobIds.length);
  // the image each kept image was reached from; a root holds ROOT - (its index in the roots)
  const pred = new Int32Array(n);
  const predEdge = new Uint8Array(n);
  const kept = new Uint8Array(n);
  // the queue holds every kept rank once; a layer is a range of it
  const queue = new Int32Array(n);
  let tail = 0;
  for (let i = 0; i < roots.ranks.length; i++) {
    const r = roots.ranks[i] as number;
    if (kept[r]) continue;
    kept[r] = QUEUED;
    pred[r] = ROOT - (roots.index[i] as number);
    queue[tail++] = r;
  }
  const { head: outHead, next: outNext, value: outValue } = store.out;
  const { head: inHead, next: inNext, value: inValue } = store.in;
  const { head: blobHead, next: blobNext, value: blobValue } = store.imageBlobs;
  let head = 0;
  while (head < tail) {
    const end = tail;
    sortLayer(queue, head, end, kept);
    for (; head < end; head++) {
      const r = queue[head] as number;
      const slot = sorted[r] as number;
      for (let e = outHead[slot] as number; e !== NONE; e = outNext[e] as number) {
        const p = outValue[e] as number;
        const t = rank[p >> 2] as number;
        if (kept[t]) continue;
        kept[t] = QUEUED;
        pred[t] = r;
        predEdge[t] = p & 3;
        queue[tail++] = t;
      }
      for (let e = inHead[slot] as number; e !== NONE; e = inNext[e] as number) {
        const p = inValue[e] as number;
        if ((p & 3) !== KIND_REFERRER) continue;
        const t = rank[p >> 2] as number;
        if (kept[t] || detached?.[t]) continue;
        kept[t] = QUEUED;
        pred[t] = r;
        predEdge[t] = 3;
        queue[tail++] = t;
      }
      for (let e = blobHead[slot] as number; e !== NONE; e = blobNext[e] as number)
        needed[(blobValue[e] as number) >> 1] = 1;
    }
  }
  return { kept, pred, predEdge, needed, keptCount: tail };
}

/** `kept` of an image queued for the next layer (1 once its layer is under way). */
const QUEUED = 2;

/**
 * Puts a layer `queue[head, end)` in rank order and marks its images plainly kept. A large layer
 * is collected by one pass over `kept` instead (cheaper than sorting it); a small one is sorted,
 * a typed array in native code, without a comparator call per pair.
 */
function sortLayer(queue: Int32Array, head: number, end: number, kept: Uint8Array): void {
  const size = end - head;
  if (size * 16 > kept.length) {
    let at = head;
    for (let r = 0; r < kept.length; r++) {
      if (kept[r] !== QUEUED) continue;
      kept[r] = 1;
      queue[at++] = r;
    }
    return;
  }
  queue.subarray(head, end).sort();
  for (let i = head; i < end; i++) kept[queue[i] as number] = 1;
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
    const isReferrer = store.out.values(slot).some((p) => p % 4 === KIND_REFERRER);
    if (isReferrer && detach(store.ids[slot] as string)) out[r] = 1;
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
  const { head: outHead, next: outNext, value: outValue } = store.out;
  const indeg = new Int32Array(n);
  // in slot order, the order the edge lists were filled in: near-sequential reads
  for (let slot = 0; slot < rank.length; slot++) {
    const r = rank[slot] as number;
    if (r < 0 || kept[r]) continue;
    for (let e = outHead[slot] as number; e !== NONE; e = outNext[e] as number) {
      const t = rank[(outValue[e] as number) >> 2] as number;
      indeg[t] = (indeg[t] as number) + 1;
    }
  }
  // order doubles as the queue: a wave is a range of it, sorted by rank (= by id)
  const order = new Int32Array(count);
  const wave = new Int32Array(count);
  let tail = 0;
  for (let r = 0; r < n; r++) if (!kept[r] && indeg[r] === 0) order[tail++] = r;
  let head = 0;
  let w = 0;
  while (head < tail) {
    const end = tail;
    order.subarray(head, end).sort();
    for (; head < end; head++) {
      const r = order[head] as number;
      wave[head] = w;
      for (let e = outHead[sorted[r] as number] as number; e !== NONE; e = outNext[e] as number) {
        const t = rank[(outValue[e] as number) >> 2] as number;
        if (kept[t]) continue;
        indeg[t] = (indeg[t] as number) - 1;
        if (indeg[t] === 0) order[tail++] = t;
      }
    }
    w++;
  }
  return { order, wave };
}

/**
 * The blobs only orphans need (those `needed` does not flag; the flags are used up), in the order
 * found, with their sizes (null when unknown) read now, and the sum of the known sizes.
 */
function freedBlobs(
  store: GraphStore,
  rank: Int32Array,
  kept: Uint8Array,
  needed: Uint8Array,
): { blobs: Int32Array; sizes: (number | null)[]; bytes: number } {
  const { head, next, value } = store.imageBlobs;
  const blobSize = store.blobSize;
  const freed = new Int32Array(store.blobIds.length);
  // a plain array: large typed arrays count as external memory, which starts full collections
  const sizes: (number | null)[] = [];
  let count = 0;
  let bytes = 0;
  // in slot order, the order the blob lists were filled in: near-sequential reads
  for (let slot = 0; slot < rank.length; slot++) {
    const r = rank[slot] as number;
    if (r < 0 || kept[r]) continue;
    for (let e = head[slot] as number; e !== NONE; e = next[e] as number) {
      const b = (value[e] as number) >> 1;
      if (needed[b]) continue;
      needed[b] = 1; // count each blob once
      const size = blobSize[b];
      sizes.push(size ?? null);
      if (size !== undefined) bytes += size;
      freed[count++] = b;
    }
  }
  return { blobs: freed.subarray(0, count), sizes, bytes };
}

function byIdThenCode(a: PlanWarning, b: PlanWarning): number {
  return compareIds(a.id, b.id) || compareIds(a.code, b.code);
}
