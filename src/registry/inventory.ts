/**
 * Inventory memory: the image ids one run saw, kept in a state file so the next run can find the
 * manifests that lost their tag in between (the OCI API cannot list untagged manifests), and when
 * a run first saw each one (a pushed time any registry can give, for `age: pushed`).
 */
import { readFile } from 'node:fs/promises';
import { ImageGraph } from '../core/image-graph.js';
import { digestOfImage, repositoryOfImage } from '../core/naming.js';
import type { ImageGraphJSON } from '../core/types.js';
import { writeFileAtomic } from '../io/atomic-write.js';
import { InventoryError } from './errors/inventory-error.js';
import { isDigest, isRepositoryName } from './reference.js';

/** The inventory format written by this version. */
export const INVENTORY_FORMAT = 'regprune.inventory.v1';

/** What a run saw: every image id (`repo@sha256:…`), tagged or not. Plain JSON. */
export interface Inventory {
  format: typeof INVENTORY_FORMAT;
  /** `host:port` of the registry the images belong to, when known. */
  registry?: string;
  /** When the inventory was taken (ISO 8601). */
  savedAt?: string;
  /** Image ids, sorted. */
  images: string[];
  /**
   * Image id → when a run first saw it (ISO 8601, that run's `savedAt`). The image was pushed at
   * or before then; for images already there when the state file was started, that is the first
   * run's time. Absent in files written before this field existed.
   */
  firstSeen?: Record<string, string>;
}

/**
 * The images an earlier run saw, in any of the shapes regprune produces: a graph, its
 * {@link ImageGraph.toJSON} snapshot, or an {@link Inventory}.
 */
export type PreviousImages = ImageGraph | ImageGraphJSON | Inventory;

/** Options of {@link writeInventory} and {@link inventoryOf}. */
export interface InventoryOptions {
  /** `host:port` of the registry (e.g. `client.host`); recorded and checked by {@link readInventory}. */
  registry?: string;
  /**
   * The inventory this run started from. Its images in repositories the new graph holds no image
   * of are carried over, so a run limited to some repositories does not forget the others.
   */
  previous?: PreviousImages;
  /** The time recorded as `savedAt`. Default: now. */
  now?: Date;
}

/** Options of {@link readInventory}. */
export interface ReadInventoryOptions {
  /** The registry (`host:port`) about to be loaded: a file recorded for another one is refused. */
  registry?: string;
}

/**
 * When `previous` first saw each image: its `firstSeen` entry, else (files without it) its
 * `savedAt`. `undefined` when `previous` records no time (a graph, or neither field), so that
 * sightings are only trusted from an inventory.
 */
export function firstSeenOf(
  previous: PreviousImages | undefined,
): ((id: string) => string | undefined) | undefined {
  if (!previous || previous instanceof ImageGraph || previous.format !== INVENTORY_FORMAT)
    return undefined;
  const { firstSeen, savedAt } = previous;
  if (!firstSeen && savedAt === undefined) return undefined;
  const listed = new Set(previous.images);
  return (id) => firstSeen?.[id] ?? (listed.has(id) ? savedAt : undefined);
}

/** The image ids of `previous`, in the order given. */
export function previousImageIds(previous: PreviousImages): string[] {
  if (previous instanceof ImageGraph) return previous.images();
  if (previous.format === INVENTORY_FORMAT) return [...previous.images];
  return previous.images.map((entry) => entry.id);
}

/** The inventory of `graph` (plus, per {@link InventoryOptions.previous}, images carried over). */
export function inventoryOf(graph: ImageGraph, options: InventoryOptions = {}): Inventory {
  const images = new Set(graph.images());
  if (options.previous) {
    const loaded = new Set([...images].map(repositoryOfImage));
    for (const id of previousImageIds(options.previous)) {
      if (!loaded.has(repositoryOfImage(id))) images.add(id);
    }
  }
  const inventory: Inventory = { format: INVENTORY_FORMAT, images: [...images].sort() };
  if (options.registry !== undefined) inventory.registry = options.registry;
  const savedAt = (options.now ?? new Date()).toISOString();
  inventory.savedAt = savedAt;
  const seen = firstSeenOf(options.previous);
  const firstSeen: Record<string, string> = {};
  for (const id of inventory.images) firstSeen[id] = seen?.(id) ?? savedAt;
  inventory.firstSeen = firstSeen;
  return inventory;
}

/**
 * Reads a state file written by {@link writeInventory} (a graph snapshot from `toJSON()` is
 * accepted too). A missing file is a first run: `undefined`.
 *
 * @example
 * ```ts
 * const previous = await readInventory('regprune-state.json', { registry: client.host });
 * const graph = await loadGraph(client, { previous });
 * // … plan and apply …
 * await writeInventory('regprune-state.json', graph, { registry: client.host, previous });
 * ```
 * @throws {InventoryError} when the file is unreadable, not an inventory, names an invalid image id
 *   or was written for another registry.
 */
export async function readInventory(
  file: string,
  options: ReadInventoryOptions = {},
): Promise<Inventory | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ENOENT') return undefined;
    throw new InventoryError(file, `cannot be read (${(error as Error).message})`, {
      cause: error,
    });
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new InventoryError(
      file,
      'is not JSON; delete it to start a fresh inventory (the next run then sees only tagged images)',
      { cause: error },
    );
  }
  const inventory = parseInventory(file, data);
  if (options.registry && inventory.registry && inventory.registry !== options.registry) {
    throw new InventoryError(
      file,
      `was written for registry ${inventory.registry}, not ${options.registry}; keep one state file per registry`,
    );
  }
  return inventory;
}

/**
 * Writes the inventory of `graph` to `file` atomically (a temporary file in the same folder,
 * fsynced, then renamed over `file`): a crash leaves the old file or the new one, never half.
 * @returns What was written.
 * @throws {InventoryError} when the file cannot be written.
 */
export async function writeInventory(
  file: string,
  graph: ImageGraph,
  options: InventoryOptions = {},
): Promise<Inventory> {
  const inventory = inventoryOf(graph, options);
  try {
    await writeFileAtomic(file, `${JSON.stringify(inventory, null, 1)}\n`);
  } catch (error) {
    throw new InventoryError(file, `cannot be written (${(error as Error).message})`, {
      cause: error,
    });
  }
  return inventory;
}

function parseInventory(file: string, data: unknown): Inventory {
  if (typeof data !== 'object' || data === null || Array.isArray(data))
    throw new InventoryError(file, 'is not a JSON object');
  const record = data as Record<string, unknown>;
  let ids: unknown[];
  if (record.format === INVENTORY_FORMAT) {
    if (!Array.isArray(record.images)) throw new InventoryError(file, '"images" is not an array');
    ids = record.images;
  } else if (record.format === 'regprune.graph.v1') {
    if (!Array.isArray(record.images)) throw new InventoryError(file, '"images" is not an array');
    ids = record.images.map((entry) => (entry as { id?: unknown } | null)?.id);
  } else {
    throw new InventoryError(
      file,
      `has format ${JSON.stringify(record.format)}; expected "${INVENTORY_FORMAT}" (or a "regprune.graph.v1" snapshot)`,
    );
  }
  const images: string[] = [];
  for (const [i, id] of ids.entries()) {
    if (typeof id !== 'string' || !isImageId(id))
      throw new InventoryError(
        file,
        `images[${i}] is ${JSON.stringify(id)}, not an image id repo@sha256:…`,
      );
    images.push(id);
  }
  const inventory: Inventory = { format: INVENTORY_FORMAT, images: [...new Set(images)].sort() };
  if (typeof record.registry === 'string') inventory.registry = record.registry;
  if (typeof record.savedAt === 'string') inventory.savedAt = record.savedAt;
  if (record.firstSeen !== undefined && record.format === INVENTORY_FORMAT) {
    inventory.firstSeen = parseFirstSeen(file, record.firstSeen, new Set(inventory.images));
  }
  return inventory;
}

/** `firstSeen`: ISO 8601 times of listed images; other keys are dropped (they protect nothing). */
function parseFirstSeen(file: string, value: unknown, listed: Set<string>): Record<string, string> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new InventoryError(file, '"firstSeen" is not an object of image id → time');
  const out: Record<string, string> = {};
  for (const [id, time] of Object.entries(value)) {
    if (typeof time !== 'string' || Number.isNaN(Date.parse(time)))
      throw new InventoryError(
        file,
        `firstSeen[${JSON.stringify(id)}] is ${JSON.stringify(time)}, not an ISO 8601 time; delete the entry (the image then counts as first seen by the next run)`,
      );
    if (listed.has(id)) out[id] = time;
  }
  return out;
}

function isImageId(id: string): boolean {
  return id.includes('@') && isRepositoryName(repositoryOfImage(id)) && isDigest(digestOfImage(id));
}
