// Over 400 lines: every bounded, non-blocking file read of a layout and the boundary checks on its
// folders sit together so that no read bypasses them.
import { createHash } from 'node:crypto';
import { constants, type Dirent, type Stats } from 'node:fs';
import { lstat, open, readdir, realpath, stat } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { digestProblem, splitDigest, VERIFIABLE_ALGORITHMS } from '../core/oci/digest.js';
import { parseDescriptor, parseManifestBytes } from '../core/oci/manifest.js';
import { CONFIG_LIMIT, MANIFEST_LIMIT } from '../core/oci/media-types.js';
import type { PlanWarning } from '../core/plan-types.js';
import { InvalidLayoutError } from './errors/invalid-layout-error.js';
import type { Descriptor, IndexDocument } from './oci-types.js';
import type { BlobEntry } from './plan-changes.js';

/**
 * `blobs/<alg>/<encoded>` of a digest, after checking it by the core's digest grammar (which
 * also keeps it from escaping the blobs directory).
 */
export function blobFile(digest: string): string {
  const problem = digestProblem(digest);
  if (problem !== undefined) throw new TypeError(problem);
  const { algorithm, encoded } = splitDigest(digest);
  return `blobs/${algorithm}/${encoded}`;
}

/** Reads and checks `oci-layout` and `index.json`. */
export async function readLayoutRoot(dir: string): Promise<IndexDocument> {
  const marker = await readJsonFile(dir, 'oci-layout', OCI_LAYOUT_LIMIT);
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
  const index = await readJsonFile(dir, 'index.json', INDEX_JSON_LIMIT);
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

/**
 * Checks one descriptor with the core's descriptor rules (the registry adapter's too): media type,
 * a digest regprune can verify, a non-negative integer size, string annotations.
 */
export function checkDescriptor(
  dir: string,
  file: string,
  where: string,
  value: unknown,
): asserts value is Descriptor {
  parseDescriptor(value, where, (problem) => {
    throw new InvalidLayoutError(dir, file, problem);
  });
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
  const bytes = await readRegularFile(dir, file, MANIFEST_LIMIT, {
    referrer,
    size: descriptor.size,
  });
  // Every descriptor passed the core's check, so the digest is one regprune can verify.
  const { algorithm } = splitDigest(descriptor.digest);
  const actual = `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;
  if (actual !== descriptor.digest) {
    throw new InvalidLayoutError(
      dir,
      file,
      `content does not match its digest (it hashes to ${actual})`,
    );
  }
  const json = parseManifestBytes(bytes, (problem) => {
    throw new InvalidLayoutError(
      dir,
      file,
      `${referrer} names it as a manifest, but it is ${problem}`,
    );
  });
  return { file, json };
}

/**
 * How many file operations (reads, stats, removals) the layout adapter keeps in flight at once:
 * enough to keep libuv's thread pool and the disk busy, far below any open-file limit, so a layout
 * of tens of thousands of manifests cannot fail with EMFILE.
 */
export const LAYOUT_IO_CONCURRENCY = 16;

/**
 * What `stat` said about a blob file (following symbolic links), or why it failed. `kind` names
 * what it is when it is no regular file (`a FIFO`, `a directory`, …).
 */
export type BlobStat = { size: number; isFile: boolean; kind: string } | { error: unknown };

/** Stats a blob file; never rejects, so one result can be shared by every manifest naming it. */
export async function statBlob(dir: string, digest: string): Promise<BlobStat> {
  try {
    const info = await stat(join(dir, blobFile(digest)));
    return { size: info.size, isFile: info.isFile(), kind: fileKind(info) };
  } catch (error) {
    return { error };
  }
}

/** The error for a blob a manifest needs that is there but is no regular file. */
export function notRegularBlobError(
  dir: string,
  digest: string,
  referrer: string,
  kind: string,
): InvalidLayoutError {
  return new InvalidLayoutError(
    dir,
    blobFile(digest),
    `${referrer} needs it, but it is not a regular file (${kind}); regprune reads and removes only regular files`,
  );
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

export type { BlobEntry } from './plan-changes.js';

/**
 * Every entry under `blobs/<alg>/`, for each of `algorithms`, whose name forms a valid digest and
 * that is or may be a file, sorted by digest. Other names (a writer's temporary files, stray names)
 * are not blobs and are left out, and so are directories. Nothing is stat-ed: the caller stats only
 * the entries it needs to (see {@link BlobEntry.regular}).
 * @param algorithms the folders {@link inspectBlobFolders} found collectable.
 */
export async function listBlobEntries(
  dir: string,
  algorithms: readonly string[],
): Promise<BlobEntry[]> {
  const out: BlobEntry[] = [];
  for (const alg of [...algorithms].sort()) {
    let entries: Dirent[];
    try {
      entries = await readdir(join(dir, 'blobs', alg), { withFileTypes: true });
    } catch {
      continue; // gone since it was inspected
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

/** Digest algorithms whose blobs regprune can verify, and so the only ones it ever removes. */
export const COLLECTED_ALGORITHMS: readonly string[] = VERIFIABLE_ALGORITHMS;

/** A layout's blob folders, judged for garbage collection. */
export interface BlobFolders {
  /** The layout directory with every symbolic link resolved. */
  root: string;
  /** The `blobs/<alg>` folders whose unneeded files may be removed (`sha256`, `sha512`). */
  collected: string[];
  /** The folders left alone, each with the warning that says so. */
  leftAlone: PlanWarning[];
}

/**
 * Finds which blob folders regprune may remove files from: `blobs/sha256` and `blobs/sha512` when
 * they and `blobs` are real directories of the layout. A folder that is a symbolic link (or
 * resolves outside the layout) may be shared with other layouts, which need files this layout does
 * not; a folder of another algorithm holds blobs regprune cannot verify. Both are left alone, with
 * a warning naming them.
 */
export async function inspectBlobFolders(dir: string): Promise<BlobFolders> {
  const root = await realpath(dir);
  const out: BlobFolders = { root, collected: [], leftAlone: [] };
  const blobs = join(root, 'blobs');
  let info: Stats;
  try {
    info = await lstat(blobs);
  } catch (error) {
    if (code(error) === 'ENOENT') return out;
    throw new InvalidLayoutError(dir, 'blobs', `cannot be inspected (${code(error)})`, {
      cause: error,
    });
  }
  if (info.isSymbolicLink()) {
    out.leftAlone.push(await sharedFolderWarning(dir, root, 'blobs'));
    return out;
  }
  if (!info.isDirectory()) {
    throw new InvalidLayoutError(dir, 'blobs', `is not a directory (${fileKind(info)})`);
  }
  let entries: Dirent[];
  try {
    entries = await readdir(blobs, { withFileTypes: true });
  } catch (error) {
    throw new InvalidLayoutError(dir, 'blobs', `cannot be listed (${code(error)})`, {
      cause: error,
    });
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    if (!(entry.isDirectory() || entry.isSymbolicLink())) continue;
    const folder = `blobs/${entry.name}`;
    if (!COLLECTED_ALGORITHMS.includes(entry.name)) {
      out.leftAlone.push({
        code: 'UNKNOWN_BLOB_ALGORITHM',
        id: folder,
        message: `${folder} in OCI layout ${dir} is not a digest algorithm regprune can verify (${COLLECTED_ALGORITHMS.join(', ')})${entry.isSymbolicLink() ? ` and is a symbolic link (to ${await resolvedOrWhy(join(blobs, entry.name))})` : ''}; regprune removes no file in it`,
      });
    } else if (entry.isSymbolicLink() || !(await isRealFolderOf(root, folder))) {
      out.leftAlone.push(await sharedFolderWarning(dir, root, folder));
    } else {
      out.collected.push(entry.name);
    }
  }
  return out;
}

/**
 * Whether `root/folder` is that very folder: no component below `root` is a symbolic link, so
 * nothing removed through the path lands outside the layout. Checked again right before each
 * removal, because a folder can be swapped for a link at any time.
 */
export async function isRealFolderOf(root: string, folder: string): Promise<boolean> {
  const expected = join(root, ...folder.split('/'));
  try {
    return (await realpath(expected)) === expected;
  } catch {
    return false;
  }
}

async function sharedFolderWarning(
  dir: string,
  root: string,
  folder: string,
): Promise<PlanWarning> {
  const target = await resolvedOrWhy(join(root, ...folder.split('/')));
  const outside = target !== root && !target.startsWith(`${root}${sep}`);
  return {
    code: 'LAYOUT_FOLDER_NOT_COLLECTED',
    id: folder,
    message: `${folder} in OCI layout ${dir} is a symbolic link (to ${target}${outside ? ', outside the layout' : ''}), so other layouts may share the blobs in it; regprune removes no file in it (index.json is still rewritten, so images this plan deletes leave the layout); free that space with a tool that sees every layout sharing the folder`,
  };
}

async function resolvedOrWhy(path: string): Promise<string> {
  try {
    return await realpath(path);
  } catch (error) {
    return `nowhere: ${code(error)}`;
  }
}

/** Largest `oci-layout` file regprune reads: it holds one short JSON object. */
export const OCI_LAYOUT_LIMIT = 64 * 1024;
/** Largest `index.json` regprune reads: room for a few hundred thousand entries. */
export const INDEX_JSON_LIMIT = 64 * 1024 * 1024;

/**
 * Reads a file of the layout that must be a regular file of at most `limit` bytes. It is opened
 * without blocking and checked with `fstat` before a byte is read, so a FIFO, a device (a link to
 * `/dev/zero`) or a directory is refused at once, and an oversized file is refused unread.
 * @param expect when a descriptor names the file: its `size` (a different size is refused unread)
 *   and the `referrer` holding that descriptor, for messages.
 * @throws {InvalidLayoutError} naming the file.
 */
export async function readRegularFile(
  dir: string,
  file: string,
  limit: number,
  expect?: { size: number; referrer: string },
): Promise<Buffer> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer, forever.
    handle = await open(join(dir, file), constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    const why =
      code(error) === 'ENOENT' && expect === undefined
        ? 'is missing (is this an OCI image layout?)'
        : `cannot be read (${code(error)})`;
    const what = expect ? `${expect.referrer} names it, but it ${why}` : why;
    throw new InvalidLayoutError(dir, file, what, { cause: error });
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) {
      throw new InvalidLayoutError(
        dir,
        file,
        `is not a regular file (${fileKind(info)}); regprune reads only regular files`,
      );
    }
    if (expect !== undefined && info.size !== expect.size) {
      throw new InvalidLayoutError(
        dir,
        file,
        `${expect.referrer} says it has ${expect.size} bytes, the file has ${info.size}`,
      );
    }
    if (info.size > limit) {
      throw new InvalidLayoutError(
        dir,
        file,
        `has ${info.size} bytes, over the ${formatLimit(limit)} limit regprune reads`,
      );
    }
    // One byte more than the size: a file that grew since the stat is noticed, within the limit.
    const buffer = Buffer.alloc(Math.min(info.size + 1, limit + 1));
    let length = 0;
    while (length < buffer.length) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    if (length !== info.size) {
      throw new InvalidLayoutError(
        dir,
        file,
        `changed while it was read (${info.size} bytes when opened, ${length > info.size ? 'more' : length} bytes read); run regprune while nothing writes to the layout`,
      );
    }
    return buffer.subarray(0, length);
  } finally {
    await handle.close();
  }
}

/** Reads a config blob for its bytes, within the config limit. */
export function readConfigBlob(dir: string, digest: string): Promise<Buffer> {
  return readRegularFile(dir, blobFile(digest), CONFIG_LIMIT);
}

async function readJsonFile(dir: string, file: string, limit: number): Promise<unknown> {
  const text = (await readRegularFile(dir, file, limit)).toString('utf8');
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new InvalidLayoutError(dir, file, `is not valid JSON (${(error as Error).message})`, {
      cause: error,
    });
  }
}

/** What a file that is not a regular file is, for messages. */
export function fileKind(info: Stats): string {
  if (info.isFile()) return 'a regular file';
  if (info.isDirectory()) return 'a directory';
  if (info.isFIFO()) return 'a FIFO';
  if (info.isCharacterDevice()) return 'a character device';
  if (info.isBlockDevice()) return 'a block device';
  if (info.isSocket()) return 'a socket';
  if (info.isSymbolicLink()) return 'a symbolic link';
  return 'not a regular file';
}

function formatLimit(limit: number): string {
  return limit % (1024 * 1024) === 0 ? `${limit / (1024 * 1024)} MiB` : `${limit / 1024} KiB`;
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function code(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? String(error);
}
