import { InvalidGraphError } from '../errors/invalid-graph-error.js';
import { compareIds } from '../sort.js';
import type { BlobRole, ImageGraphJSON, ImageInfo } from '../types.js';
import { assertAcyclic } from './cycles.js';
import { type GraphStorage, KIND_CHILD, KIND_PARENT, KIND_REFERRER } from './store.js';

/** The graph as plain, sorted JSON, independent of the order things were added in. */
export function graphToJSON(store: GraphStorage): ImageGraphJSON {
  const { ids, blobIds, blobSize } = store;
  const images: ImageGraphJSON['images'] = [];
  const parents: Array<[string, string]> = [];
  const children: Array<[string, string]> = [];
  const referrers: Array<[string, string]> = [];
  const buckets = [parents, children, referrers];
  const usedBlobs = new Set<number>();
  for (const slot of store.sortedSlots()) {
    const id = ids[slot] as string;
    const entry: ImageGraphJSON['images'][number] = { id };
    const info = store.info[slot];
    if (info) entry.info = structuredClone(info);
    const blobs = store.imageBlobs.values(slot);
    if (blobs.length > 0) {
      entry.blobs = blobs
        .map((p): [string, BlobRole] => {
          usedBlobs.add(p >> 1);
          return [blobIds[p >> 1] as string, p & 1 ? 'layer' : 'config'];
        })
        .sort((a, b) => compareIds(a[0], b[0]));
    }
    images.push(entry);
    for (const packed of store.out.values(slot)) {
      (buckets[packed % 4] as Array<[string, string]>).push([
        id,
        ids[Math.floor(packed / 4)] as string,
      ]);
    }
  }
  const byPair = (a: [string, string], b: [string, string]) =>
    compareIds(a[0], b[0]) || compareIds(a[1], b[1]);
  for (const bucket of buckets) bucket.sort(byPair);
  const blobSizes: Record<string, number> = {};
  for (const blob of [...usedBlobs].sort((a, b) =>
    compareIds(blobIds[a] as string, blobIds[b] as string),
  )) {
    const size = blobSize[blob];
    if (size !== undefined) blobSizes[blobIds[blob] as string] = size;
  }
  const tags: Record<string, string> = {};
  const tagNames = store.tags.sorted();
  const tagSlots = store.tags.sortedSlots();
  for (let i = 0; i < tagNames.length; i++)
    tags[tagNames[i] as string] = ids[tagSlots[i] as number] as string;
  const json: ImageGraphJSON = {
    format: 'regprune.graph.v1',
    images,
    parents,
    children,
    referrers,
    blobSizes,
    tags,
  };
  if (store.warnings.size > 0) json.warnings = store.sortedWarnings();
  return json;
}

/**
 * Fills an empty store from {@link graphToJSON} output (or a parsed file of that shape),
 * validating everything; edges are checked for cycles once, after all are added.
 * @throws {InvalidGraphError} naming the offending field; {@link UnknownImageError}, {@link InvalidEdgeError}.
 */
export function loadGraphJSON(store: GraphStorage, json: unknown): void {
  const data = expectObject(json, '$');
  if (data.format !== 'regprune.graph.v1') {
    throw new InvalidGraphError(
      '$.format',
      `expected "regprune.graph.v1", got ${JSON.stringify(data.format)}`,
    );
  }
  const blobSizes = data.blobSizes === undefined ? {} : expectObject(data.blobSizes, '$.blobSizes');
  const images = expectArray(data.images, '$.images');
  // Paths for error messages are built only when a check fails: building them for every valid
  // entry would cost more than the checks themselves on large graphs.
  const slots = new Int32Array(images.length);
  reserve(store, data, images);
  for (let i = 0; i < images.length; i++) {
    const raw = images[i];
    const entry = isObject(raw) ? raw : expectObject(raw, `$.images[${i}]`);
    const id = isId(entry.id) ? entry.id : expectString(entry.id, `$.images[${i}].id`);
    const info = entry.info;
    slots[i] = store.addImage(
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
      const known = store.blobSlotOf.get(blobId);
      let size: unknown;
      if (known === undefined) {
        size = blobSizes[blobId];
        if (size !== undefined && typeof size !== 'number') {
          throw new InvalidGraphError(`$.blobSizes[${JSON.stringify(blobId)}]`, 'must be a number');
        }
      }
      store.linkBlob(slot, blobId, pair[1] as BlobRole, size as number | undefined, known, false);
    }
  }
  assertNoBlobIsAnImage(store);
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
      store.addEdge(
        isId(pair[0]) ? pair[0] : expectString(pair[0], `$.${field}[${i}][0]`),
        isId(pair[1]) ? pair[1] : expectString(pair[1], `$.${field}[${i}][1]`),
        kind,
        false,
      );
    }
  }
  assertAcyclic(store.out, store.ids);
  const tags = data.tags === undefined ? {} : expectObject(data.tags, '$.tags');
  for (const tag of Object.keys(tags)) {
    const target = tags[tag];
    store.setTag(
      tag,
      isId(target) ? target : expectString(target, `$.tags[${JSON.stringify(tag)}]`),
    );
  }
  const warnings = data.warnings === undefined ? [] : expectArray(data.warnings, '$.warnings');
  for (let i = 0; i < warnings.length; i++) {
    const w = expectObject(warnings[i], `$.warnings[${i}]`);
    store.addWarning({
      code: expectString(w.code, `$.warnings[${i}].code`),
      id: expectString(w.id, `$.warnings[${i}].id`),
      message: expectString(w.message, `$.warnings[${i}].message`),
    });
  }
}

/**
 * Sizes the adjacency arrays for a whole JSON graph up front: growing them by doubling allocates
 * large buffers again and again, and each one can set off a full garbage collection.
 */
function reserve(store: GraphStorage, data: Record<string, unknown>, images: unknown[]): void {
  const slots = store.ids.length + images.length;
  store.out.ensureSlots(slots);
  store.in.ensureSlots(slots);
  store.imageBlobs.ensureSlots(slots);
  let links = 0;
  for (const entry of images) {
    const blobs = isObject(entry) ? entry.blobs : undefined;
    if (Array.isArray(blobs)) links += blobs.length;
  }
  store.imageBlobs.reserve(links);
  let edges = 0;
  for (const field of ['parents', 'children', 'referrers']) {
    const pairs = data[field];
    if (Array.isArray(pairs)) edges += pairs.length;
  }
  store.out.reserve(edges);
  store.in.reserve(edges);
}

/**
 * The check {@link GraphStorage.linkBlob} makes per new blob, done once for a bulk load: looking
 * up each id of the smaller set in the other's map costs far less than one lookup per blob.
 */
function assertNoBlobIsAnImage(store: GraphStorage): void {
  const { ids, blobIds, blobSlotOf, slotOf } = store;
  const clash =
    store.liveCount <= blobIds.length
      ? ids.find((id) => id !== undefined && blobSlotOf.has(id))
      : blobIds.find((id) => slotOf.has(id));
  if (clash !== undefined) {
    throw new InvalidGraphError('blob id', `${JSON.stringify(clash)} is already an image id`);
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
