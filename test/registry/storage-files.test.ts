/**
 * The registry-storage reader meets files the registry never writes: a FIFO or a symlink to
 * /dev/zero where a `link` file should be, or an oversized one. It refuses them, naming the
 * file, before reading — it must neither block forever nor read without end. The storage trees are
 * built by hand in the filesystem driver's layout (the same paths docker-registry 2.8 writes).
 */
import { execFileSync } from 'node:child_process';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readStoredManifests, StorageRootError } from '../../src/registry/index.js';
import { useTempDir } from '../helpers/temp-dir.js';

const tempDir = useTempDir('regprune-storage-files-');
const HEX = 'ab'.repeat(32);

/** A storage root holding repository `app` with one revision; returns the root and its link path. */
async function storage(name: string): Promise<{ root: string; link: string }> {
  const root = join(tempDir(), name);
  const revision = join(
    root,
    'docker/registry/v2/repositories/app/_manifests/revisions/sha256',
    HEX,
  );
  await mkdir(revision, { recursive: true });
  return { root, link: join(revision, 'link') };
}

async function refusal(root: string): Promise<{ error: unknown; took: number }> {
  const started = Date.now();
  const error = await readStoredManifests(root).catch((e: unknown) => e);
  return { error, took: Date.now() - started };
}

describe('storage reader: files that are not the registry’s writing', () => {
  it('reads a regular link file (control)', async () => {
    const { root, link } = await storage('regular');
    await writeFile(link, `sha256:${HEX}`);
    expect((await readStoredManifests(root)).repositories.get('app')).toEqual([`sha256:${HEX}`]);
  });

  it('a FIFO as a link file is refused at once, naming the file', async () => {
    const { root, link } = await storage('fifo');
    execFileSync('mkfifo', [link]);
    const { error, took } = await refusal(root);
    expect(error).toBeInstanceOf(StorageRootError);
    expect((error as Error).message).toContain(link);
    expect((error as Error).message).toMatch(/not a regular file/);
    expect(took).toBeLessThan(3_000);
  }, 10_000);

  it('a symlink to /dev/zero as a link file is refused without reading it', async () => {
    const { root, link } = await storage('devzero');
    await symlink('/dev/zero', link);
    const before = process.memoryUsage().rss;
    const { error, took } = await refusal(root);
    expect(error).toBeInstanceOf(StorageRootError);
    expect((error as Error).message).toContain(link);
    expect((error as Error).message).toMatch(/not a regular file/);
    expect(took).toBeLessThan(3_000);
    expect(process.memoryUsage().rss - before).toBeLessThan(32 * 1024 * 1024);
  }, 10_000);

  it('a link file far larger than a digest is refused by its size, not read', async () => {
    const { root, link } = await storage('huge');
    await writeFile(link, Buffer.alloc(8 * 1024 * 1024, 0x61));
    const { error } = await refusal(root);
    expect(error).toBeInstanceOf(StorageRootError);
    expect((error as Error).message).toContain(link);
    expect((error as Error).message).toMatch(/8388608 bytes/);
  });
});
