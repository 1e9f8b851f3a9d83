/**
 * Reading one manifest or index of a layout: its blob (bounded, verified), the core's parser, the
 * blobs it needs (stat-ed once per digest per scan) and its date. `load-graph.ts` walks the layout
 * and builds the graph from what this returns.
 */
import type { LimitFunction } from 'p-limit';
import {
  descriptorDigests,
  isOciDigest,
  type ManifestDescriptor,
  type ParsedManifest,
  parseManifest,
} from '../core/oci/manifest.js';
import { artifactTypeOf, CONFIG_LIMIT, IMAGE_CONFIG_TYPES } from '../core/oci/media-types.js';
import type { ImageInfo, Platform } from '../core/types.js';
import { InvalidLayoutError } from './errors/invalid-layout-error.js';
import { BASE_DIGEST, CREATED, type Descriptor, OCI_ARTIFACT } from './oci-types.js';
import {
  type BlobStat,
  blobFile,
  isObject,
  missingBlobError,
  notRegularBlobError,
  readConfigBlob,
  readManifestBlob,
  statBlob,
} from './read-layout.js';

/** A manifest or index still to read, and where its descriptor was found. */
export interface Pending {
  descriptor: Descriptor;
  /** The file holding the descriptor (`index.json`, or an index or manifest blob). */
  file: string;
  /** Where in that file, e.g. `manifests[2]` or `subject`. */
  where: string;
}

export interface Found {
  digest: string;
  info: ImageInfo;
  blobs: Array<{ digest: string; size: number; role: 'config' | 'layer' }>;
  children: string[];
  subject: string | undefined;
  base: string | undefined;
  file: string;
}

/** What every read of one scan shares. */
export interface ScanContext {
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

export function statOnce(ctx: ScanContext, digest: string): Promise<BlobStat> {
  let pending = ctx.stats.get(digest);
  if (pending === undefined) {
    pending = ctx.io(() => statBlob(ctx.dir, digest));
    ctx.stats.set(digest, pending);
  }
  return pending;
}

export interface ReadResult {
  found: Found;
  /** Manifests and indexes this one names, still to read. */
  pending: Pending[];
}

/**
 * Reads one manifest or index through the core's manifest parser (the registry adapter's too).
 * Content of a media type regprune does not know is an opaque image: it stays, and every blob
 * its JSON names by a descriptor counts as needed, so garbage collection never takes them.
 */
export async function readImage(ctx: ScanContext, pending: Pending): Promise<ReadResult> {
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
