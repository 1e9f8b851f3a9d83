/**
 * The one atomic file write of the adapters (the layout's `index.json`, the inventory state file)
 * and the folder fsync the journal needs when it creates its file. Node-only, so it lives outside
 * the pure core; both adapters import it, neither imports the other.
 */
import { randomBytes } from 'node:crypto';
import { open, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Options of {@link writeFileAtomic}. */
export interface AtomicWriteOptions {
  /** Mode of a new file (an existing file keeps its own). Default `0o644`, less the umask. */
  mode?: number;
}

/**
 * Writes `file` so that readers (and a crash) see the old content or the new, never a mix: a
 * temporary file in the same folder is written and fsynced, renamed over `file`, then the folder
 * is fsynced so the rename itself survives a crash. On failure the temporary file is removed and
 * the old file is left as it was.
 */
export async function writeFileAtomic(
  file: string,
  data: string | Uint8Array,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const dir = dirname(file);
  const temp = join(dir, `.${basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  let mode = options.mode ?? 0o644;
  try {
    mode = (await stat(file)).mode & 0o777;
  } catch {
    // A new file gets the requested mode.
  }
  try {
    const handle = await open(temp, 'wx', mode);
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, file);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw error;
  }
  await syncDirectory(dir);
}

/**
 * Fsyncs a folder, so a file created or renamed in it stays after a crash. Best effort: some file
 * systems refuse fsync on folders, and the file's own fsync and the rename still hold there.
 */
export async function syncDirectory(dir: string): Promise<void> {
  try {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // See above: nothing more can be done, and the data itself is already durable.
  }
}
