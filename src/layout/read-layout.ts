import { createHash } from 'node:crypto';
import type { Dirent } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { MANIFEST_LIMIT } from '../core/media-types.js';
import { InvalidLayoutError } from './errors/invalid-layout-error.js';
import type { Descriptor, IndexDocument } from './oci-types.js';

const ALGORITHM = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*$/;
const ENCODED = /^[a-zA-Z0-9=_-]+$/;
const HEX_LENGTH: Record<string, number> = { sha256: 64, sha512: 128 };

/** `blobs/<alg>/<encoded>` of a digest, after checking it cannot escape the blobs directory. */
export function blobFile(digest: string): string {
  const colon = digest.indexOf(':');
  const alg = digest.slice(0, colon);
  const encoded = digest.slice(colon + 1);
  if (colon <= 0 || !ALGORITHM.test(alg) || !ENCODED.test(encoded)) {
    throw new TypeError(`invalid digest ${JSON.stringify(digest)}`);
  }
  const length = HEX_LENGTH[alg];
  if (length !== undefined && !(encoded.length === length && /^[a-f0-9]+$/.test(encoded))) {
    throw new TypeError(`invalid ${alg} digest ${JSON.stringify(digest)}`);
  }
  return `blobs/${alg}/${encoded}`;
}

/** Reads and checks `oci-layout` and `index.json`. */
export async function readLayoutRoot(dir: string): Promise<IndexDocument> {
  const marker = await readJsonFile(dir, 'oci-layout');
  if (!isObject(marker) || typeof marker.imageLayoutVersion !== 'string') {
    throw new InvalidLayoutError(
      dir,
      'oci-layout',
      'must be a JSON object with "imageLayoutVersion"',
    );
  }
  if (!marker.imageLayoutVersion.startsWith('1.')) {
    throw new InvalidLayoutError(
      dir,
      'oci-layout',
      `unsupported imageLayoutVersion ${JSON.stringify(marker.imageLayoutVersion)} (expected 1.x)`,
    );
  }
  const index = await readJsonFile(dir, 'index.json');
  checkIndex(dir, 'index.json', index);
  return index;
}

/** Checks the shape of an image index (index.json or an index blob). */
export function checkIndex(
  dir: string,
  file: string,
  value: unknown,
): asserts value is IndexDocument {
  if (!isObject(value)) throw new InvalidLayoutError(dir, file, 'must be a JSON object');
  if (value.schemaVersion !== 2) {
    throw new InvalidLayoutError(
      dir,
      file,
      `"schemaVersion" must be 2, got ${JSON.stringify(value.schemaVersion)}`,
    );
  }
  if (!Array.isArray(value.manifests)) {
    throw new InvalidLayoutError(dir, file, '"manifests" must be an array');
  }
  value.manifests.forEach((d, i) => {
    checkDescriptor(dir, file, `manifests[${i}]`, d);
  });
}

/** Checks one descriptor: media type, a well-formed digest, a non-negative integer size. */
export function checkDescriptor(
  dir: string,
  file: string,
  where: string,
  value: unknown,
): asserts value is Descriptor {
  if (!isObject(value)) throw new InvalidLayoutError(dir, file, `${where} must be an object`);
  if (typeof value.mediaType !== 'string' || value.mediaType === '') {
    throw new InvalidLayoutError(dir, file, `${where}.mediaType must be a non-empty string`);
  }
  if (typeof value.digest !== 'string') {
    throw new InvalidLayoutError(dir, file, `${where}.digest must be a string`);
  }
  try {
    blobFile(value.digest);
  } catch (error) {
    throw new InvalidLayoutError(dir, file, `${where}.digest: ${(error as Error).message}`);
  }
  if (!(Number.isSafeInteger(value.size) && (value.size as number) >= 0)) {
    throw new InvalidLayoutError(
      dir,
      file,
      `${where}.size must be a non-negative integer, got ${JSON.stringify(value.size)}`,
    );
  }
  if (value.annotations !== undefined) {
    const annotations = value.annotations;
    if (!isObject(annotations) || Object.values(annotations).some((v) => typeof v !== 'string')) {
      throw new InvalidLayoutError(dir, file, `${where}.annotations must map strings to strings`);
    }
  }
}

/**
 * Reads a manifest or index blob, checks its size and digest against the descriptor that names
 * it, and parses it.
 * @param referrer the file whose descriptor names this blob, for error messages.
 */
export async function readManifestBlob(
  dir: string,
  descriptor: Descriptor,
  referrer: string,
): Promise<{ file: string; json: Record<string, unknown> }> {
  const file = blobFile(descriptor.digest);
  if (descriptor.size > MANIFEST_LIMIT) {
    throw new InvalidLayoutError(
      dir,
      file,
      `${referrer} names it as a manifest of ${descriptor.size} bytes, over the 4 MiB limit`,
    );
  }
  let bytes: Buffer;
  try {
    bytes = await readFile(join(dir, file));
  } catch (error) {
    throw new InvalidLayoutError(
      dir,
      file,
      `${referrer} names it, but it cannot be read (${code(error)})`,
      {
        cause: error,
      },
    );
  }
  if (bytes.length !== descriptor.size) {
    throw new InvalidLayoutError(
      dir,
      file,
      `${referrer} says it has ${descriptor.size} bytes, the file has ${bytes.length}`,
    );
  }
  const [alg] = descriptor.digest.split(':');
  if (alg === 'sha256' || alg === 'sha512') {
    const actual = `${alg}:${createHash(alg).update(bytes).digest('hex')}`;
    if (actual !== descriptor.digest) {
      throw new InvalidLayoutError(
        dir,
        file,
        `content does not match its digest (it hashes to ${actual})`,
      );
    }
  }
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    throw new InvalidLayoutError(
      dir,
      file,
      `${referrer} names it as a manifest, but it is not valid JSON`,
      {
        cause: error,
      },
    );
  }
  if (!isObject(json)) throw new InvalidLayoutError(dir, file, 'a manifest must be a JSON object');
  return { file, json };
}

/**
 * How many file operations (reads, stats, removals) the layout adapter keeps in flight at once:
 * enough to keep libuv's thread pool and the disk busy, far below any open-file limit, so a layout
 * of tens of thousands of manifests cannot fail with EMFILE.
 */
export const LAYOUT_IO_CONCURRENCY = 16;

/** What `stat` said about a blob file (following symbolic links), or why it failed. */
export type BlobStat = { size: number; isFile: boolean } | { error: unknown };

/** Stats a blob file; never rejects, so one result can be shared by every manifest naming it. */
export async function statBlob(dir: string, digest: string): Promise<BlobStat> {
  try {
    const info = await stat(join(dir, blobFile(digest)));
    return { size: info.size, isFile: info.isFile() };
  } catch (error) {
    return { error };
  }
}

/** The error for a blob a manifest needs that cannot be stat-ed, naming that manifest. */
export function missingBlobError(
  dir: string,
  digest: string,
  referrer: string,
  error: unknown,
): InvalidLayoutError {
  return new InvalidLayoutError(
    dir,
    blobFile(digest),
    `${referrer} needs it, but it is missing (${code(error)})`,
    { cause: error },
  );
}

/** A name under `blobs/<alg>/` that forms a valid digest. */
export interface BlobEntry {
  digest: string;
  /**
   * `true` when the directory listing shows a regular file. `false` for a symbolic link (or an
   * entry whose type the listing does not tell): only a `stat` says whether it is a file.
   */
  regular: boolean;
}

/**
 * Every entry under `blobs/<alg>/` whose name forms a valid digest and that is or may be a file,
 * sorted by digest. Other names (a writer's temporary files, stray names) are not blobs and are
 * left out, and so are directories. Nothing is stat-ed: the caller stats only the entries it needs
 * to (see {@link BlobEntry.regular}).
 */
export async function listBlobEntries(dir: string): Promise<BlobEntry[]> {
  const out: BlobEntry[] = [];
  let algorithms: string[];
  try {
    algorithms = await readdir(join(dir, 'blobs'));
  } catch (error) {
    if (code(error) === 'ENOENT') return out;
    throw new InvalidLayoutError(dir, 'blobs', `cannot be listed (${code(error)})`, {
      cause: error,
    });
  }
  for (const alg of algorithms.sort()) {
    if (!ALGORITHM.test(alg)) continue;
    let entries: Dirent[];
    try {
      entries = await readdir(join(dir, 'blobs', alg), { withFileTypes: true });
    } catch {
      continue; // not a directory
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      if (entry.isDirectory()) continue;
      const digest = `${alg}:${entry.name}`;
      try {
        blobFile(digest);
      } catch {
        continue;
      }
      out.push({ digest, regular: entry.isFile() });
    }
  }
  return out;
}

async function readJsonFile(dir: string, file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(join(dir, file), 'utf8');
  } catch (error) {
    const what =
      code(error) === 'ENOENT'
        ? 'is missing (is this an OCI image layout?)'
        : `cannot be read (${code(error)})`;
    throw new InvalidLayoutError(dir, file, what, { cause: error });
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new InvalidLayoutError(dir, file, `is not valid JSON (${(error as Error).message})`, {
      cause: error,
    });
  }
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function code(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? String(error);
}
