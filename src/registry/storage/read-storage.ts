import { constants, type Stats } from 'node:fs';
import { type FileHandle, open, readdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import pLimit from 'p-limit';
import { compareIds } from '../../core/sort.js';
import { StorageRootError } from '../errors/storage-root-error.js';
import { isRepositoryName } from '../reference.js';

const V2 = join('docker', 'registry', 'v2');
const SHA256_HEX = /^[a-f0-9]{64}$/;
/** Files read at once: enough to hide disk latency, few enough to stay far from fd limits. */
const FILE_CONCURRENCY = 32;
/** A link file is `sha256:<64 hex>`, 71 bytes; anything much larger is not one. */
const LINK_LIMIT = 1024;
const LINK_HINT =
  'the registry writes every link file as a small regular file; remove or repair this one (the storage was changed by something else)';
/** Repository names nest a few levels; a deeper tree is not a registry's doing. */
const MAX_NAME_DEPTH = 32;

/** Every manifest revision the registry stores, per repository. */
export interface StoredManifests {
  /** The `docker/registry/v2` folder that was read. */
  v2: string;
  /** Repository name → manifest digests (`sha256:…`), sorted; repositories sorted by name. */
  repositories: Map<string, string[]>;
  /**
   * Image id (`repo@sha256:…`) → when the registry received the manifest in that repository
   * (ISO 8601): the modification time of its revision link, which the registry writes on every
   * push of the manifest, so a manifest pushed again shows the latest push.
   */
  pushed: Map<string, string>;
}

/** Options of {@link readStoredManifests}. */
export interface ReadStorageOptions {
  /**
   * Read only these repositories (exact names; ones the storage does not hold come back with no
   * digests). Default: walk every repository in the storage.
   */
  repositories?: readonly string[];
  signal?: AbortSignal;
}

/**
 * Finds the `docker/registry/v2` folder of a filesystem-driver storage. `dir` may be the driver's
 * `rootdirectory` (e.g. `/var/lib/registry`, holding `docker/registry/v2`) or that `v2` folder.
 * @throws {StorageRootError} when `dir` is neither.
 */
export async function locateStorage(dir: string): Promise<string> {
  const own = await statOf(dir, dir);
  if (!own) throw new StorageRootError(dir, 'does not exist');
  if (!own.isDirectory()) throw new StorageRootError(dir, 'is not a folder');
  const nested = join(dir, V2);
  if ((await statOf(nested, dir))?.isDirectory()) return nested;
  if (basename(dir) === 'v2') {
    for (const sub of ['repositories', 'blobs']) {
      if ((await statOf(join(dir, sub), dir))?.isDirectory()) return dir;
    }
  }
  if (await statOf(join(dir, 'oci-layout'), dir)) {
    throw new StorageRootError(dir, 'is an OCI image layout, not a registry storage', {
      hint: 'load layouts with loadLayoutGraph (regprune layout …); --storage is for the storage of a registry on the filesystem driver',
    });
  }
  throw new StorageRootError(dir, `has no ${V2} folder inside`);
}

/**
 * Lists every manifest revision of a self-hosted registry on the filesystem storage driver (CNCF
 * distribution, `registry:2`, Debian's `docker-registry`), read only:
 * `docker/registry/v2/repositories/<name>/_manifests/revisions/sha256/<hex>/link`. Tagged or not —
 * this is how untagged manifests, invisible over the OCI API, are found. Nested repository names
 * (`team/sub/app`) are followed. Revisions whose `link` file is gone are left out: that is how the
 * registry records a manifest deleted through the API. Nothing is ever written.
 *
 * @param root The driver's `rootdirectory` or its `docker/registry/v2` folder (see {@link locateStorage}).
 * @throws {StorageRootError} when `root` is not a registry storage root or cannot be read.
 */
export async function readStoredManifests(
  root: string,
  options: ReadStorageOptions = {},
): Promise<StoredManifests> {
  const v2 = await locateStorage(root);
  const base = join(v2, 'repositories');
  const limit = pLimit(FILE_CONCURRENCY);
  const reader: Reader = { root, limit, signal: options.signal };
  const found = new Map<string, Revision[]>();
  try {
    if (options.repositories) {
      await Promise.all(
        [...new Set(options.repositories)].map(async (name) => {
          // Names outside the grammar cannot come from the registry and must not become paths.
          if (!isRepositoryName(name)) return;
          found.set(name, await revisions(reader, join(base, ...name.split('/'), '_manifests')));
        }),
      );
    } else if ((await statOf(base, root))?.isDirectory()) {
      await walk(reader, base, [], found);
    }
  } catch (error) {
    limit.clearQueue();
    throw error;
  }
  const sorted = [...found].sort(([a], [b]) => compareIds(a, b));
  const repositories = new Map(sorted.map(([name, list]) => [name, list.map((r) => r.digest)]));
  const pushed = new Map<string, string>();
  for (const [name, list] of sorted) {
    for (const { digest, mtimeMs } of list)
      pushed.set(`${name}@${digest}`, new Date(mtimeMs).toISOString());
  }
  return { v2, repositories, pushed };
}

/** A manifest revision and its link file's modification time. */
interface Revision {
  digest: string;
  mtimeMs: number;
}

interface Reader {
  root: string;
  limit: ReturnType<typeof pLimit>;
  signal: AbortSignal | undefined;
}

async function walk(
  reader: Reader,
  dir: string,
  name: string[],
  out: Map<string, Revision[]>,
): Promise<void> {
  if (name.length > MAX_NAME_DEPTH) return;
  const entries = await listDir(reader, dir);
  await Promise.all(
    entries.map(async (entry) => {
      if (!entry.isDirectory()) return;
      const path = join(dir, entry.name);
      if (entry.name === '_manifests') {
        const repository = name.join('/');
        if (isRepositoryName(repository)) out.set(repository, await revisions(reader, path));
      } else if (!entry.name.startsWith('_')) {
        // `_layers` and `_uploads` sit beside `_manifests`; any other folder is a name component.
        await walk(reader, path, [...name, entry.name], out);
      }
    }),
  );
}

async function revisions(reader: Reader, manifestsDir: string): Promise<Revision[]> {
  const dir = join(manifestsDir, 'revisions', 'sha256');
  const entries = await listDir(reader, dir);
  const found = await Promise.all(
    entries.map(async (entry): Promise<Revision | undefined> => {
      if (!entry.isDirectory() || !SHA256_HEX.test(entry.name)) return undefined;
      const link = await readLink(reader, join(dir, entry.name, 'link'));
      // The link names its own revision; anything else is not the registry's writing.
      return link?.text === `sha256:${entry.name}`
        ? { digest: link.text, mtimeMs: link.mtimeMs }
        : undefined;
    }),
  );
  return found
    .filter((r): r is Revision => r !== undefined)
    .sort((a, b) => (a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0));
}

/** The folder's entries; none when it does not exist. */
async function listDir(reader: Reader, dir: string) {
  return reader.limit(async () => {
    reader.signal?.throwIfAborted();
    try {
      return await readdir(dir, { withFileTypes: true });
    } catch (error) {
      if (isMissing(error)) return [];
      throw new StorageRootError(reader.root, `cannot read ${dir}`, {
        cause: error,
        hint: 'run regprune as a user that can read the registry storage (read access is enough)',
      });
    }
  });
}

/** A link file's content and modification time, or `undefined` when it is gone (a deleted manifest). */
async function readLink(
  reader: Reader,
  path: string,
): Promise<{ text: string; mtimeMs: number } | undefined> {
  return reader.limit(async () => {
    reader.signal?.throwIfAborted();
    let file: FileHandle;
    try {
      // O_NONBLOCK: opening a FIFO would otherwise wait for a writer, forever. O_NOFOLLOW: the
      // registry never writes a symlink here, and one may lead to /dev/zero.
      file = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch (error) {
      if (isMissing(error)) return undefined;
      if ((error as { code?: unknown }).code === 'ELOOP')
        throw notRegular(reader, path, 'a symbolic link');
      throw new StorageRootError(reader.root, `cannot read ${path}`, {
        cause: error,
        hint: 'run regprune as a user that can read the registry storage (read access is enough)',
      });
    }
    try {
      const stats = await file.stat();
      if (!stats.isFile()) throw notRegular(reader, path, kindOf(stats));
      if (stats.size > LINK_LIMIT) {
        throw new StorageRootError(
          reader.root,
          `${path} is ${stats.size} bytes; a link file holds one digest (71 bytes)`,
          { hint: LINK_HINT },
        );
      }
      // Bounded by the buffer too: the file may grow between fstat and read.
      const buffer = Buffer.alloc(LINK_LIMIT + 1);
      const { bytesRead } = await file.read(buffer, 0, buffer.length, 0);
      if (bytesRead > LINK_LIMIT) {
        throw new StorageRootError(
          reader.root,
          `${path} grew past ${LINK_LIMIT} bytes while read`,
          {
            hint: LINK_HINT,
          },
        );
      }
      return {
        text: buffer.subarray(0, bytesRead).toString('utf8').trim(),
        mtimeMs: stats.mtimeMs,
      };
    } catch (error) {
      if (error instanceof StorageRootError) throw error;
      throw new StorageRootError(reader.root, `cannot read ${path}`, {
        cause: error,
        hint: 'run regprune as a user that can read the registry storage (read access is enough)',
      });
    } finally {
      await file.close();
    }
  });
}

function notRegular(reader: Reader, path: string, kind: string): StorageRootError {
  return new StorageRootError(reader.root, `${path} is not a regular file (${kind})`, {
    hint: LINK_HINT,
  });
}

function kindOf(stats: Stats): string {
  if (stats.isFIFO()) return 'a FIFO';
  if (stats.isSocket()) return 'a socket';
  if (stats.isCharacterDevice() || stats.isBlockDevice()) return 'a device';
  if (stats.isDirectory()) return 'a folder';
  return 'not a file';
}

async function statOf(path: string, root: string): Promise<Stats | undefined> {
  try {
    return await stat(path);
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw new StorageRootError(root, `cannot read ${path}`, { cause: error });
  }
}

function isMissing(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}
