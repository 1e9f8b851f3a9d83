/**
 * The benchmark's yardstick: the same graph as flat typed arrays (CSR, compressed sparse rows) and
 * a plain breadth-first reachability pass over them. It computes only what reachability needs —
 * which images stay, how many are orphaned, how many blobs only orphans use — and none of a plan's
 * output (keep paths, deletion waves, tag decisions, sorted id lists).
 */
import type { ImageGraphJSON } from '../src/core/types.js';

/** An image graph as CSR arrays; image `i` is `json.images[i]`. */
export interface CsrGraph {
  imageCount: number;
  blobCount: number;
  /** Out-edges of every kind (parent, child, referrer): targets of `i` are `outTarget[outStart[i]..outStart[i+1])`. */
  outStart: Int32Array;
  outTarget: Int32Array;
  /** Reverse referrer edges: the referrers attached to `i`. */
  referrerStart: Int32Array;
  referrerSource: Int32Array;
  /** Blobs each image needs. */
  blobStart: Int32Array;
  blobTarget: Int32Array;
  /** Images the keep list's tags point at (the roots), deduplicated. */
  roots: Int32Array;
}

/** What the reachability pass found. */
export interface CsrResult {
  keptImages: number;
  orphanedImages: number;
  /** Blobs that only orphaned images need. */
  reclaimableBlobs: number;
}

/** Builds the CSR form of `json` with the images `keepTags` point at as roots. */
export function buildCsr(json: ImageGraphJSON, keepTags: readonly string[]): CsrGraph {
  const n = json.images.length;
  const slotOf = new Map<string, number>();
  for (let i = 0; i < n; i++) slotOf.set((json.images[i] as { id: string }).id, i);
  const slot = (id: string): number => {
    const s = slotOf.get(id);
    if (s === undefined) throw new Error(`CSR: unknown image ${id}`);
    return s;
  };
  const edges = [...json.parents, ...json.children, ...json.referrers];
  const outStart = new Int32Array(n + 1);
  const referrerStart = new Int32Array(n + 1);
  for (const [from] of edges) {
    const f = slot(from) + 1;
    outStart[f] = (outStart[f] as number) + 1;
  }
  for (const [, subject] of json.referrers) {
    const s = slot(subject) + 1;
    referrerStart[s] = (referrerStart[s] as number) + 1;
  }
  for (let i = 0; i < n; i++) {
    outStart[i + 1] = (outStart[i + 1] as number) + (outStart[i] as number);
    referrerStart[i + 1] = (referrerStart[i + 1] as number) + (referrerStart[i] as number);
  }
  const outTarget = new Int32Array(edges.length);
  const outFill = outStart.slice(0, n);
  for (const [from, to] of edges) {
    const f = slot(from);
    const at = outFill[f] as number;
    outTarget[at] = slot(to);
    outFill[f] = at + 1;
  }
  const referrerSource = new Int32Array(json.referrers.length);
  const refFill = referrerStart.slice(0, n);
  for (const [referrer, subject] of json.referrers) {
    const s = slot(subject);
    const at = refFill[s] as number;
    referrerSource[at] = slot(referrer);
    refFill[s] = at + 1;
  }

  const blobSlot = new Map<string, number>();
  const blobStart = new Int32Array(n + 1);
  let blobEdges = 0;
  for (let i = 0; i < n; i++) {
    blobEdges += json.images[i]?.blobs?.length ?? 0;
    blobStart[i + 1] = blobEdges;
  }
  const blobTarget = new Int32Array(blobEdges);
  let at = 0;
  for (let i = 0; i < n; i++) {
    for (const [blob] of json.images[i]?.blobs ?? []) {
      let b = blobSlot.get(blob);
      if (b === undefined) {
        b = blobSlot.size;
        blobSlot.set(blob, b);
      }
      blobTarget[at++] = b;
    }
  }

  const rootSet = new Set<number>();
  for (const tag of keepTags) {
    const image = json.tags[tag];
    if (image === undefined) throw new Error(`CSR: unknown tag ${tag}`);
    rootSet.add(slot(image));
  }
  return {
    imageCount: n,
    blobCount: blobSlot.size,
    outStart,
    outTarget,
    referrerStart,
    referrerSource,
    blobStart,
    blobTarget,
    roots: Int32Array.from(rootSet),
  };
}

/**
 * Breadth-first reachability from the roots over out-edges and, so that a kept subject keeps its
 * referrers, over reverse referrer edges (one pass reaches the fixpoint: a referrer reached later
 * is queued like any other image). Then counts orphans and the blobs only orphans need.
 */
export function csrReachability(csr: CsrGraph): CsrResult {
  const n = csr.imageCount;
  const { outStart, outTarget, referrerStart, referrerSource, blobStart, blobTarget } = csr;
  const kept = new Uint8Array(n);
  const needed = new Uint8Array(csr.blobCount);
  const queue = new Int32Array(n);
  let tail = 0;
  for (const r of csr.roots) {
    if (kept[r]) continue;
    kept[r] = 1;
    queue[tail++] = r;
  }
  for (let head = 0; head < tail; head++) {
    const i = queue[head] as number;
    for (let e = outStart[i] as number, end = outStart[i + 1] as number; e < end; e++) {
      const t = outTarget[e] as number;
      if (kept[t]) continue;
      kept[t] = 1;
      queue[tail++] = t;
    }
    for (let e = referrerStart[i] as number, end = referrerStart[i + 1] as number; e < end; e++) {
      const t = referrerSource[e] as number;
      if (kept[t]) continue;
      kept[t] = 1;
      queue[tail++] = t;
    }
    for (let e = blobStart[i] as number, end = blobStart[i + 1] as number; e < end; e++) {
      needed[blobTarget[e] as number] = 1;
    }
  }
  let reclaimable = 0;
  for (let i = 0; i < n; i++) {
    if (kept[i]) continue;
    for (let e = blobStart[i] as number, end = blobStart[i + 1] as number; e < end; e++) {
      const b = blobTarget[e] as number;
      if (needed[b]) continue;
      needed[b] = 1;
      reclaimable++;
    }
  }
  return { keptImages: tail, orphanedImages: n - tail, reclaimableBlobs: reclaimable };
}
