/**
 * The one atomic-write helper (temporary file in the same folder, fsync, rename, fsync of the
 * folder) that the layout's index.json, the journal's folder and the inventory state file use.
 */
import { chmod, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeFileAtomic } from '../../src/io/atomic-write.js';
import { useTempDir } from '../helpers/temp-dir.js';

const temp = useTempDir('regprune-atomic-');

describe('writeFileAtomic', () => {
  it('replaces the content, keeps the mode of the file it replaces, leaves no temporary file', async () => {
    const dir = join(temp(), 'replace');
    await mkdir(dir);
    const file = join(dir, 'index.json');
    await writeFile(file, 'old');
    await chmod(file, 0o600);
    await writeFileAtomic(file, 'new');
    expect(await readFile(file, 'utf8')).toBe('new');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await readdir(dir)).toEqual(['index.json']);
  });

  it('creates a new file with the given mode (default 0644), bytes as given', async () => {
    const dir = join(temp(), 'create');
    await mkdir(dir);
    await writeFileAtomic(join(dir, 'a'), new Uint8Array([1, 2, 3]));
    await writeFileAtomic(join(dir, 'b'), 'x', { mode: 0o600 });
    expect([...(await readFile(join(dir, 'a')))]).toEqual([1, 2, 3]);
    expect((await stat(join(dir, 'a'))).mode & 0o777).toBe(0o644 & ~process.umask());
    expect((await stat(join(dir, 'b'))).mode & 0o777).toBe(0o600);
  });

  it('a failed rename leaves the old file whole and no temporary file behind', async () => {
    const dir = join(temp(), 'fail');
    await mkdir(join(dir, 'target'), { recursive: true });
    // Renaming a file over a non-empty directory fails.
    await writeFile(join(dir, 'target', 'keep'), 'k');
    await expect(writeFileAtomic(join(dir, 'target'), 'new')).rejects.toThrow();
    expect((await readdir(dir)).sort()).toEqual(['target']);
    expect(await readFile(join(dir, 'target', 'keep'), 'utf8')).toBe('k');
  });
});
