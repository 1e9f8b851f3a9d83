// Over 400 lines: scanning a layout and turning it into a graph share one bounded I/O queue and the
// stat cache; issue 14 splits reading from building.
import pLimit, { type LimitFunction } from 'p-limit';
import { RegpruneError } from '../core/errors/regprune-error.js';
import { ImageGraph } from '../core/image-graph.js';
import { isRefName, REF_NAME_GRAMMAR } from '../core/oci/annotations.js';
import {
  descriptorDigests,
  isKnownManifestType,
  isOciDigest,
  type ManifestDescriptor,
  type ParsedManifest,
  parseManifest,
} from '../core/oci/manifest.js';
import {
  artifactTypeOf,
  CONFIG_LIMIT,
  IMAGE_CONFIG_TYPES,
  MANIFEST_LIMIT,
} from '../core/oci/media-types.js';
import type { ImageInfo, Platform } from '../core/types.js';
import { InvalidLayoutError } from './errors/invalid-layout-error.js';
import { layoutImageId } from './naming.js';
import {
  BASE_DIGEST,
  CREATED,
  type Descriptor,
  type IndexDocument,
  OCI_ARTIFACT,
  REF_NAME,
} from './oci-types.js';
import {
  type BlobFolders,
  type BlobStat,
  blobFile,
  inspectBlobFolders,
  isObject,
  LAYOUT_IO_CONCURRENCY,
  missingBlobError,
  notRegularBlobError,
  readConfigBlob,
  readLayoutRoot,
  readManifestBlob,
  statBlob,
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

/** A manifest or index still to read, and where its descriptor was found. */
interface Pending {
  descriptor: Descriptor;
  /** The file holding the descriptor (`index.json`, or an index or manifest blob). */
  file: string;
  /** Where in that file, e.g. `manifests[2]` or `subject`. */
  where: string;
}

interface Found {
  digest: string;
  info: ImageInfo;
  blobs: Array<{ digest: string; size: number; role: 'config' | 'layer' }>;
  children: string[];
  subject: string | undefined;
  base: string | undefined;
  file: string;
}

/** What every read of one scan shares. */
interface ScanContext {
  dir: string;
  dates: boolean;
  signal: AbortSignal | undefined;
  /**
   * Bounds the file operations in flight. It wraps single operations only, never a task that
   * waits on another through it, which could deadlock.
   */
  io: LimitFunction;
  /** One stat per blob digest, however many manifests name it (base layers are shared widely). */
  stats: Map<string, Promise<BlobStat>>;
}

function statOnce(ctx: ScanContext, digest: string): Promise<BlobStat> {
  let pending = ctx.stats.get(digest);
  if (pending === undefined) {
    pending = ctx.io(() => statBlob(ctx.dir, digest));
    ctx.stats.set(digest, pending);
  }
  return pending;
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

interface ReadResult {
  found: Found;
  /** Manifests and indexes this one names, still to read. */
  pending: Pending[];
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

/**
 * Reads one manifest or index through the core's manifest parser (the registry adapter's too).
 * Content of a media type regprune does not know is an opaque image: it stays, and every blob
 * its JSON names by a descriptor counts as needed, so garbage collection never takes them.
 */
async function readImage(ctx: ScanContext, pending: Pending): Promise<ReadResult> {
  const { dir, dates } = ctx;
  const { descriptor } = pending;
  const named = `${pending.file} ${pending.where}`;
  const { file, json } = await ctx.io(() => {
    ctx.signal?.throwIfAborted();
    return readManifestBlob(dir, descriptor, named);
  });
  // The core's rule picks the media type (the registry adapter's too, with the Content-Type in
  // the descriptor's place): the same bytes read the same through either adapter.
  const parsed: ParsedManifest = parseManifest(
    json,
    descriptor.mediaType,
    (problem): never => {
      throw new InvalidLayoutError(dir, file, problem);
    },
    named,
  );

  const info: ImageInfo = { mediaType: parsed.mediaType, size: descriptor.size };
  const platform = platformOf(descriptor.platform);
  if (platform) info.platform = platform;
  const annotations = stringMap(json.annotations);
  if (annotations) info.annotations = annotations;
  if (typeof json.artifactType === 'string') info.artifactType = json.artifactType;
  const found: Found = {
    digest: descriptor.digest,
    info,
    blobs: [],
    children: [],
    subject: undefined,
    base: undefined,
    file,
  };
  const next: Pending[] = [];

  if (parsed.kind === 'opaque') {
    info.opaque = `unknown media type ${parsed.mediaType}`;
    const seen = new Set<string>([descriptor.digest]);
    for (const digest of descriptorDigests(json)) {
      if (seen.has(digest)) continue;
      seen.add(digest);
      const result = await statOnce(ctx, digest);
      if (!('error' in result) && result.isFile)
        found.blobs.push({ digest, size: result.size, role: 'layer' });
    }
    return { found, pending: next };
  }
  if (parsed.kind === 'index') {
    parsed.manifests.forEach((child, i) => {
      found.children.push(child.digest);
      next.push({ descriptor: { ...child }, file, where: `manifests[${i}]` });
    });
  } else {
    const fields: Array<[string, ManifestDescriptor]> = [];
    if (parsed.config) fields.push(['config', parsed.config]);
    const layerField = parsed.mediaType === OCI_ARTIFACT ? 'blobs' : 'layers';
    parsed.layers.forEach((d, i) => {
      fields.push([`${layerField}[${i}]`, d]);
    });
    // Stat every blob at once, then judge the fields in order, so the first problem reported is
    // the one a field-by-field check would have found.
    const stats = fields.map(([, d]) => statOnce(ctx, d.digest));
    for (const [i, [where, d]] of fields.entries()) {
      const result = await (stats[i] as Promise<BlobStat>);
      if ('error' in result)
        throw missingBlobError(dir, d.digest, `${file} ${where}`, result.error);
      if (!result.isFile) throw notRegularBlobError(dir, d.digest, `${file} ${where}`, result.kind);
      const size = result.size;
      if (size !== d.size) {
        throw new InvalidLayoutError(
          dir,
          blobFile(d.digest),
          `${file} ${where} says it has ${d.size} bytes, the file has ${size}`,
        );
      }
      found.blobs.push({ digest: d.digest, size, role: where === 'config' ? 'config' : 'layer' });
    }
    const config = parsed.config;
    const isImageConfig = config !== undefined && IMAGE_CONFIG_TYPES.has(config.mediaType);
    const artifactType = artifactTypeOf(info.artifactType, config?.mediaType);
    if (artifactType !== undefined) info.artifactType = artifactType;
    if (dates && config && isImageConfig) {
      const created = await ctx.io(() => readCreated(dir, config));
      if (created !== undefined) info.created = created;
    }
  }
  if (parsed.subject) {
    const subject = parsed.subject;
    // A subject that is not in the layout cannot be kept or deleted; the referrer stands alone.
    const present = await statOnce(ctx, subject.digest);
    if (!('error' in present) && present.isFile) {
      found.subject = subject.digest;
      const { annotations: _ignored, ...bare } = subject;
      next.push({ descriptor: bare, file, where: 'subject' });
    }
  }
  if (info.created === undefined && annotations?.[CREATED]) info.created = annotations[CREATED];
  const base = annotations?.[BASE_DIGEST] ?? descriptor.annotations?.[BASE_DIGEST];
  if (base !== undefined) {
    if (isOciDigest(base)) found.base = base;
    else
      info.warnings = [
        {
          code: 'INVALID_BASE_DIGEST',
          message: `${BASE_DIGEST} is ${JSON.stringify(base)}, which is not a digest; no parent is linked`,
        },
      ];
  }
  return { found, pending: next };
}

/** An OCI config's `created` field: any non-empty string is passed on; the policy judges it. */
function createdOf(config: unknown): string | undefined {
  return isObject(config) && typeof config.created === 'string' && config.created !== ''
    ? config.created
    : undefined;
}

async function readCreated(
  dir: string,
  config: { digest: string; size: number },
): Promise<string | undefined> {
  // As for registries, a config too large to read has no date.
  if (config.size > CONFIG_LIMIT) return undefined;
  // The scan found it a regular file of that size; one swapped since is refused unread.
  const bytes = await readConfigBlob(dir, config.digest);
  try {
    return createdOf(JSON.parse(bytes.toString('utf8')));
  } catch {
    // A config that is not JSON has no date; the policy reports images without dates.
    return undefined;
  }
}

function platformOf(value: unknown): Platform | undefined {
  if (!isObject(value) || typeof value.os !== 'string' || typeof value.architecture !== 'string')
    return undefined;
  const platform: Platform = { os: value.os, architecture: value.architecture };
  if (typeof value.variant === 'string') platform.variant = value.variant;
  return platform;
}

function stringMap(value: unknown): Record<string, string> | undefined {
  if (!isObject(value)) return undefined;
  const entries = Object.entries(value).filter(
    (e): e is [string, string] => typeof e[1] === 'string',
  );
  return entries.length > 0 ? Object.fromEntries(entries) : undefined;
}
