import { DirectedGraph } from 'graphology';
import { compareIds } from '../sort.js';
import type { BlobRole, EdgeKind, ImageEdgeKind, ImageInfo } from '../types.js';
import { type GraphStorage, KIND_NAMES } from './store.js';

/** Node attributes of the graph {@link ImageGraph.toGraphology} returns. */
export interface GraphNodeAttributes {
  kind: 'image' | 'blob';
  /** Image info (images only). */
  info?: ImageInfo;
  /** Blob size in bytes (blobs only, when known). */
  size?: number;
  /** Tags pointing at the image (images only, when it has any), sorted. */
  tags?: string[];
}

/** Edge attributes of the graph {@link ImageGraph.toGraphology} returns. */
export interface GraphEdgeAttributes {
  /**
   * The edge's kind. A pair of images may be joined by several kinds at once (an index that lists
   * X and has X as its `subject`); the graph holds one edge for the pair, and `kind` is the first
   * of them in the order `parent`, `child`, `referrer`.
   */
  kind: EdgeKind;
  /** Every image edge kind joining the pair, in that order; set only when there are several. */
  kinds?: ImageEdgeKind[];
  /** For blob edges: config or layer. */
  role?: BlobRole;
}

/**
 * A new graphology graph holding a copy of the store's images, blobs, edges and tags. Nodes and
 * edges are added in sorted order (images by id, then blobs by id; each image's edges by target
 * id; blob edges after image edges), whatever order the graph was built in.
 */
export function buildGraphology(
  store: GraphStorage,
): DirectedGraph<GraphNodeAttributes, GraphEdgeAttributes> {
  const graph = new DirectedGraph<GraphNodeAttributes, GraphEdgeAttributes>({
    allowSelfLoops: false,
  });
  const { ids, blobIds, blobSize } = store;
  const sorted = store.sortedSlots();
  const rank = store.sortedRank();
  for (const slot of sorted) {
    const attrs: GraphNodeAttributes = { kind: 'image' };
    const info = store.info[slot];
    if (info) attrs.info = structuredClone(info);
    const tags = store.tags.ofSlot(slot);
    if (tags.length > 0) attrs.tags = tags;
    graph.addNode(ids[slot] as string, attrs);
  }
  const blobs: number[] = [];
  for (let b = 0; b < blobIds.length; b++) if (store.isLiveBlob(b)) blobs.push(b);
  blobs.sort((a, b) => compareIds(blobIds[a] as string, blobIds[b] as string));
  for (const b of blobs) {
    const size = blobSize[b];
    graph.addNode(
      blobIds[b] as string,
      size === undefined ? { kind: 'blob' } : { kind: 'blob', size },
    );
  }
  const kindsTo = new Map<number, number>();
  for (const slot of sorted) {
    const from = ids[slot] as string;
    kindsTo.clear();
    for (const packed of store.out.values(slot)) {
      const target = packed >> 2;
      kindsTo.set(target, (kindsTo.get(target) ?? 0) | (1 << (packed & 3)));
    }
    const targets = [...kindsTo.keys()].sort((a, b) => (rank[a] as number) - (rank[b] as number));
    for (const target of targets) {
      const mask = kindsTo.get(target) as number;
      const kinds = KIND_NAMES.filter((_, k) => mask & (1 << k));
      const attrs: GraphEdgeAttributes = { kind: kinds[0] as ImageEdgeKind };
      if (kinds.length > 1) attrs.kinds = kinds;
      graph.addDirectedEdge(from, ids[target] as string, attrs);
    }
    for (const blob of store.blobsOf(slot)) {
      graph.addDirectedEdge(from, blob.id, { kind: 'blob', role: blob.role });
    }
  }
  return graph;
}
