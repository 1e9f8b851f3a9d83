import pLimit from 'p-limit';
import { RegpruneError } from '../core/errors/regprune-error.js';
import { ImageGraph } from '../core/image-graph.js';
import { isRefName, REF_NAME_GRAMMAR } from '../core/oci/annotations.js';
import { isKnownManifestType } from '../core/oci/manifest.js';
import { MANIFEST_LIMIT } from '../core/oci/media-types.js';
import { InvalidLayoutError } from './errors/invalid-layout-error.js';
import { layoutImageId } from './naming.js';
import { BASE_DIGEST, type IndexDocument, REF_NAME } from './oci-types.js';
import {
  type Found,
  type Pending,
  type ReadResult,
  readImage,
  type ScanContext,
  statOnce,
} from './read-image.js';
import {
  type BlobFolders,
  inspectBlobFolders,
  LAYOUT_IO_CONCURRENCY,
  readLayoutRoot,
  readManifestBlob,
} from './read-layout.js';

/** Options of {@link loadLayoutGraph}. */
export interface LoadLayoutOptions {
  /**
   * Read each image's config blob for its `created` date (policies that order by date need it).
   * Default `true`: the files are local, so it costs little.
   */
  dates?: boolean;
  /** Stops loading between manifests. */
  signal?: AbortSignal;
}

/**
 * A loaded layout: the graph plus the `index.json` the apply step rewrites. An image's media type
 * and size (for a new `index.json` entry) are in its `imageInfo`, taken from the descriptor that
 * first named it. @internal
 */
export interface LayoutScan {
  dir: string;
  index: IndexDocument;
  graph: ImageGraph;
  /** Which blob folders may lose files, and which are left alone. */
  folders: BlobFolders;
}

/**
 * Loads the image graph of an OCI image layout directory (`oci-layout`, `index.json`,
 * `blobs/<alg>/<encoded>`).
 *
 * - Roots are the entries of `index.json`; tags are their `org.opencontainers.image.ref.name`
 *   annotations, exactly as written (e.g. `v1.2.0`).
 * - Images are manifests and indexes, with ids `@<digest>` (see {@link layoutImageId}); nested
 *   indexes become `child` edges; a manifest's `subject` becomes a `referrer` edge when the subject
 *   is in the layout; an `org.opencontainers.image.base.digest` annotation (on the manifest or on
 *   the descriptor naming it) becomes a `parent` edge when the base is an image of the layout (an
 *   invalid digest, or a base not in the layout, is a plan warning instead).
 * - Manifests are read by the core's parser, the registry adapter's too (OCI artifact manifests
 *   included). One of a media type regprune does not know is an opaque image: always kept, with a
 *   plan warning, and every blob its JSON names in a descriptor counts as needed.
 *   Config and layer blobs are blob ids (bare digests) with their sizes.
 * - `created` comes from the config blob (`dates`, default `true`), else from the manifest's
 *   `org.opencontainers.image.created` annotation.
 * - Every manifest and index is checked against its digest and size; every config and layer blob
 *   must exist with the size its descriptor states.
 *
 * Manifests that nothing in `index.json` reaches are not loaded: the layout's own garbage
 * collection (`umoci gc`) treats them as garbage too.
 *
 * Every file is opened without blocking and checked before a byte is read: a FIFO, a device
 * (e.g. a link to `/dev/zero`) or a directory is refused, and so is a file over its limit
 * (`oci-layout` 64 KiB, `index.json` 64 MiB, manifests 4 MiB; a config over 8 MiB is not read
 * and gives no date). Config and layer blobs must be regular files too. Blob folders regprune
 * will not remove files from (see `applyLayoutPlan`) are recorded as graph warnings
 * ({@link ImageGraph.warnings}), so every plan made from the graph names them.
 *
 * @throws {InvalidLayoutError} naming the file and the problem when the layout is malformed: a
 *   missing `oci-layout` or `index.json`, a file that is not a regular file or is over its limit,
 *   invalid JSON, a missing blob, a digest or size mismatch, a known manifest type with the wrong
 *   shape, or an invalid ref name.
 * @example
 * ```ts
 * const graph = await loadLayoutGraph('./oci');
 * graph.tagTarget('latest'); // → '@sha256:…'
 * ```
 */
export async function loadLayoutGraph(
  dir: string,
  options: LoadLayoutOptions = {},
): Promise<ImageGraph> {
  return (await scanLayout(dir, options)).graph;
}

/** Reads `layer` and everything it names, breadth-first, into `found`. */
async function readAll(
  ctx: ScanContext,
  first: Pending[],
  found: Map<string, Found>,
  queued: Set<string>,
): Promise<void> {
  let layer = first;
  for (const p of layer) queued.add(p.descriptor.digest);
  // One level at a time: the reads of one level run concurrently, bounded by ctx.io.
  while (layer.length > 0) {
    ctx.signal?.throwIfAborted();
    // Settle every read, then report the first failure in queue order, so a layout with several
    // problems always names the same one.
    const settled = await Promise.allSettled(layer.map((p) => readImage(ctx, p)));
    const failed = settled.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
    const results = settled.map((r) => (r as PromiseFulfilledResult<ReadResult>).value);
    const next: Pending[] = [];
    for (const result of results) {
      found.set(result.found.digest, result.found);
      for (const p of result.pending) {
        if (queued.has(p.descriptor.digest)) continue;
        queued.add(p.descriptor.digest);
        next.push(p);
      }
    }
    layer = next;
  }
}

/**
 * Base images (`base.digest` annotations) not read yet whose manifest is a regular file in the
 * layout, with the media type its own JSON states (one without a known manifest media type stays
 * unresolved, with the `UNRESOLVED_BASE` warning).
 */
async function untaggedBases(
  ctx: ScanContext,
  found: Map<string, Found>,
  queued: Set<string>,
): Promise<Pending[]> {
  const pending: Pending[] = [];
  for (const f of found.values()) {
    const base = f.base;
    if (base === undefined || queued.has(base)) continue;
    queued.add(base);
    const stat = await statOnce(ctx, base);
    if ('error' in stat || !stat.isFile || stat.size > MANIFEST_LIMIT) continue;
    const where = `annotations["${BASE_DIGEST}"]`;
    let mediaType: unknown;
    try {
      const { json } = await ctx.io(() =>
        readManifestBlob(
          ctx.dir,
          { mediaType: '', digest: base, size: stat.size },
          `${f.file} ${where}`,
        ),
      );
      mediaType = json.mediaType;
    } catch {
      continue;
    }
    if (typeof mediaType !== 'string' || !isKnownManifestType(mediaType)) continue;
    pending.push({ descriptor: { mediaType, digest: base, size: stat.size }, file: f.file, where });
  }
  return pending;
}

/** @internal */
export async function scanLayout(
  dir: string,
  options: LoadLayoutOptions = {},
): Promise<LayoutScan> {
  const ctx: ScanContext = {
    dir,
    dates: options.dates ?? true,
    signal: options.signal,
    io: pLimit(LAYOUT_IO_CONCURRENCY),
    stats: new Map(),
  };
  const index = await readLayoutRoot(dir);
  const tags = readTags(dir, index);
  const folders = await inspectBlobFolders(dir);

  const found = new Map<string, Found>();
  const queued = new Set<string>();
  const layer: Pending[] = [];
  index.manifests.forEach((d, i) => {
    if (queued.has(d.digest)) return;
    queued.add(d.digest);
    layer.push({ descriptor: d, file: 'index.json', where: `manifests[${i}]` });
  });
  await readAll(ctx, layer, found, queued);
  // A base image named only by a base-digest annotation, in blobs/ but in no index.json entry, is
  // still the parent of the images built on it, as the registry adapter loads such an untagged
  // base too: read it, so both adapters see the same graph and apply never removes it as a stray.
  for (;;) {
    const bases = await untaggedBases(ctx, found, queued);
    if (bases.length === 0) break;
    await readAll(ctx, bases, found, queued);
  }

  const graph = new ImageGraph();
  const ordered = [...found.values()].sort((a, b) =>
    a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0,
  );
  for (const f of ordered) {
    graph.addImage(layoutImageId(f.digest), f.info);
    for (const b of f.blobs)
      graph.addBlob(layoutImageId(f.digest), b.digest, { size: b.size, role: b.role });
  }
  for (const f of ordered) {
    const id = layoutImageId(f.digest);
    try {
      for (const child of f.children) graph.addChild(id, layoutImageId(child));
      if (f.subject !== undefined && f.subject !== f.digest)
        graph.addReferrer(id, layoutImageId(f.subject));
      if (f.base !== undefined && f.base !== f.digest) {
        if (found.has(f.base)) graph.addParent(id, layoutImageId(f.base));
        else
          graph.addImage(id, {
            warnings: [
              ...(f.info.warnings ?? []),
              {
                code: 'UNRESOLVED_BASE',
                message: `its base image ${f.base} (${BASE_DIGEST}) is not in the layout; nothing here protects it`,
              },
            ],
          });
      }
    } catch (error) {
      if (error instanceof RegpruneError) {
        throw new InvalidLayoutError(dir, f.file, error.message, { cause: error });
      }
      throw error;
    }
  }
  for (const [tag, digest] of tags) graph.setTag(tag, layoutImageId(digest));
  for (const warning of folders.leftAlone) graph.addWarning(warning);
  return { dir, index, graph, folders };
}

/** The tags of `index.json` (`ref name → digest`), after checking each ref name. */
function readTags(dir: string, index: IndexDocument): Map<string, string> {
  const tags = new Map<string, string>();
  index.manifests.forEach((d, i) => {
    const ref = d.annotations?.[REF_NAME];
    if (ref === undefined) return;
    if (!isRefName(ref)) {
      throw new InvalidLayoutError(
        dir,
        'index.json',
        `manifests[${i}] has the ref name ${JSON.stringify(ref)}, which is not a valid ${REF_NAME} (${REF_NAME_GRAMMAR})`,
      );
    }
    const before = tags.get(ref);
    if (before !== undefined && before !== d.digest) {
      throw new InvalidLayoutError(
        dir,
        'index.json',
        `manifests[${i}] names tag ${JSON.stringify(ref)} for ${d.digest}, but an earlier entry names it for ${before}`,
      );
    }
    tags.set(ref, d.digest);
  });
  return tags;
}
