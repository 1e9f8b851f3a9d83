/**
 * The layout boundary: the layout adapter never unlinks or writes anything outside the layout's
 * real directory, never collects blobs it cannot verify, and never blocks on (or reads without
 * bound from) a file that is not a regular file.
 */

import { execFile } from 'node:child_process';
import { constants, renameSync, symlinkSync } from 'node:fs';
import {
  lstat,
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  rm,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { type CleanupPlan, planCleanup } from '../../src/index.js';
import {
  applyLayoutPlan,
  InvalidLayoutError,
  layoutImageId,
  loadLayoutGraph,
  PlanMismatchError,
} from '../../src/layout/index.js';
import { runCliInProcess } from '../helpers/cli.js';
import {
  type BuiltLayout,
  blobPath,
  buildLayout,
  type Descriptor,
  OCI_CONFIG,
  OCI_INDEX,
  OCI_LAYER,
  OCI_MANIFEST,
  REF_NAME,
  readIndexJson,
  refNames,
  sha256,
  snapshot,
  writeBlob,
  writeIndexJson,
} from '../helpers/layout-builder.js';
import { skopeoReadsTag, umociGc } from '../helpers/layout-tools.js';
import { useTempDir } from '../helpers/temp-dir.js';

const run = promisify(execFile);
const work = useTempDir('regprune-layout-boundary-');
let counter = 0;
const fresh = (name: string) => join(work(), `${name}${counter++}`);

/** Rejects when `promise` has not settled within `ms`: a hang fails the test instead of stalling. */
function within<T>(ms: number, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`did not settle within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** A layout with a kept and a dropped image (own layers, so dropping frees files). */
function twoImages(dir: string, prefix: string): Promise<BuiltLayout> {
  return buildLayout(dir, {
    images: {
      keep: { layers: [`${prefix} keep layer`] },
      drop: { layers: [`${prefix} drop layer`] },
    },
    tags: { keep: 'keep', drop: 'drop' },
  });
}

/**
 * Two layouts A and B whose blobs live in one shared store, the common way to deduplicate:
 * `blobs/sha256` (mode `alg`) or `blobs` itself (mode `blobs`) is a symbolic link into `shared`.
 */
async function sharedLayouts(mode: 'alg' | 'blobs') {
  const root = fresh('shared-');
  const a = await twoImages(join(root, 'A'), 'A');
  const b = await buildLayout(join(root, 'B'), {
    images: { b: { layers: ['B only layer'] }, bOld: { layers: ['B old layer'] } },
    tags: { b: 'b', old: 'bOld' },
  });
  const store = join(root, 'store');
  await mkdir(join(store, 'sha256'), { recursive: true });
  for (const dir of [a.dir, b.dir]) {
    for (const name of await readdir(join(dir, 'blobs', 'sha256'))) {
      await rename(join(dir, 'blobs', 'sha256', name), join(store, 'sha256', name));
    }
    if (mode === 'alg') {
      await rm(join(dir, 'blobs', 'sha256'), { recursive: true });
      await symlink('../../store/sha256', join(dir, 'blobs', 'sha256'));
    } else {
      await rm(join(dir, 'blobs'), { recursive: true });
      await symlink('../store', join(dir, 'blobs'));
    }
  }
  return { root, a, b, store, before: await snapshot(store) };
}

const folderOf = (mode: 'alg' | 'blobs') => (mode === 'alg' ? 'blobs/sha256' : 'blobs');

describe('a blob store shared through a symbolic link is never garbage-collected', () => {
  for (const mode of ['alg', 'blobs'] as const) {
    const folder = folderOf(mode);
    it(`${folder} a symbolic link: the plan warns naming ${folder}; apply removes no shared file, rewrites index.json, and the other layout still reads completely with skopeo`, async () => {
      const { a, b, store, before } = await sharedLayouts(mode);
      const plan = planCleanup(await loadLayoutGraph(a.dir), ['keep']);
      expect(plan.delete.map((d) => d.image)).toEqual([
        layoutImageId((a.desc.drop as Descriptor).digest),
      ]);
      const warning = plan.warnings.find((w) => w.id === folder);
      expect(warning?.code).toBe('LAYOUT_FOLDER_NOT_COLLECTED');
      expect(warning?.message).toContain('symbolic link');

      const result = await applyLayoutPlan(a.dir, plan);
      expect(result.outcomes.filter((o) => o.action === 'delete-blob')).toEqual([]);
      expect(result.totals.failed).toBe(0);
      expect(result.notes.join('\n')).toContain(folder);
      expect(await snapshot(store)).toEqual(before);
      expect(await refNames(a.dir)).toEqual(['keep']);
      await skopeoReadsTag(a.dir, 'keep');
      await skopeoReadsTag(b.dir, 'b');
      await skopeoReadsTag(b.dir, 'old');
    });

    it(`${folder} a symbolic link: \`regprune apply oci:A --keep keep --yes\` prints the warning and leaves the shared store whole`, async () => {
      const { a, b, store, before } = await sharedLayouts(mode);
      const cli = await runCliInProcess(['apply', `oci:${a.dir}`, '--keep', 'keep', '--yes']);
      expect(cli.stderr).toBe('');
      expect(cli.code).toBe(0);
      expect(cli.stdout).toContain('LAYOUT_FOLDER_NOT_COLLECTED');
      expect(cli.stdout).toContain(folder);
      expect(await snapshot(store)).toEqual(before);
      await skopeoReadsTag(b.dir, 'b');
      await skopeoReadsTag(b.dir, 'old');
    });
  }

  it('blobs/sha256 a symbolic link: like `umoci gc`, regprune removes nothing in the shared store', async () => {
    const { a, b, store, before } = await sharedLayouts('alg');
    await umociGc(a.dir);
    expect(await snapshot(store)).toEqual(before);
    const plan = planCleanup(await loadLayoutGraph(a.dir), ['keep', 'drop']);
    await applyLayoutPlan(a.dir, plan);
    expect(await snapshot(store)).toEqual(before);
    await skopeoReadsTag(b.dir, 'b');
  });

  it("blobs a symbolic link: `umoci gc` (0.4.7) follows it and removes the other layout's blobs; regprune removes nothing", async () => {
    const withUmoci = await sharedLayouts('blobs');
    await umociGc(withUmoci.a.dir);
    expect(Object.keys(await snapshot(withUmoci.store)).length).toBeLessThan(
      Object.keys(withUmoci.before).length,
    );
    await expect(skopeoReadsTag(withUmoci.b.dir, 'b')).rejects.toThrow();

    const { a, b, store, before } = await sharedLayouts('blobs');
    const plan = planCleanup(await loadLayoutGraph(a.dir), ['keep', 'drop']);
    await applyLayoutPlan(a.dir, plan);
    expect(await snapshot(store)).toEqual(before);
    await skopeoReadsTag(b.dir, 'b');
    await skopeoReadsTag(b.dir, 'old');
  });

  it('blobs/sha256 a symbolic link to a folder inside the layout is left alone too (it is a link)', async () => {
    const a = await twoImages(fresh('inner-'), 'inner');
    await rename(join(a.dir, 'blobs', 'sha256'), join(a.dir, 'store'));
    await symlink('../store', join(a.dir, 'blobs', 'sha256'));
    const before = await snapshot(join(a.dir, 'store'));
    const plan = planCleanup(await loadLayoutGraph(a.dir), ['keep']);
    expect(plan.warnings.map((w) => w.id)).toContain('blobs/sha256');
    await applyLayoutPlan(a.dir, plan);
    expect(await snapshot(join(a.dir, 'store'))).toEqual(before);
  });

  it('a layout that is itself reached through a symbolic link is collected as usual (only blobs/ and blobs/<alg>/ are judged)', async () => {
    const a = await twoImages(fresh('real-'), 'linked');
    const link = fresh('link-');
    await symlink(a.dir, link);
    const plan = planCleanup(await loadLayoutGraph(link), ['keep']);
    expect(plan.warnings).toEqual([]);
    const result = await applyLayoutPlan(link, plan);
    const removed = result.outcomes.filter((o) => o.action === 'delete-blob').map((o) => o.id);
    expect(removed.sort()).toEqual([...(a.own.drop as string[])].sort());
    await skopeoReadsTag(a.dir, 'keep');
  });
});

describe('only blobs regprune can verify (sha256, sha512) are collected', () => {
  it('blobs/backup -> ../../victim: nothing in the victim folder is removed; the plan warns naming blobs/backup', async () => {
    const root = fresh('victim-');
    const a = await twoImages(join(root, 'L'), 'victim');
    await mkdir(join(root, 'victim'));
    await writeFile(join(root, 'victim', 'id_rsa'), 'PRIVATE KEY');
    await writeFile(join(root, 'victim', 'notes'), 'notes');
    await symlink('../../victim', join(a.dir, 'blobs', 'backup'));
    const before = await snapshot(join(root, 'victim'));

    const plan = planCleanup(await loadLayoutGraph(a.dir), ['keep']);
    const warning = plan.warnings.find((w) => w.id === 'blobs/backup');
    expect(warning?.code).toBe('UNKNOWN_BLOB_ALGORITHM');
    expect(warning?.message).toContain('symbolic link');
    const result = await applyLayoutPlan(a.dir, plan);
    const removed = result.outcomes.filter((o) => o.action === 'delete-blob').map((o) => o.id);
    expect(removed.sort()).toEqual([...(a.own.drop as string[])].sort());
    expect(await snapshot(join(root, 'victim'))).toEqual(before);
  });

  it('a plain folder of an unknown algorithm (blobs/md5) is left alone and reported', async () => {
    const a = await twoImages(fresh('md5-'), 'md5');
    await mkdir(join(a.dir, 'blobs', 'md5'));
    await writeFile(join(a.dir, 'blobs', 'md5', 'd41d8cd98f00b204e9800998ecf8427e'), 'x');
    const plan = planCleanup(await loadLayoutGraph(a.dir), ['keep']);
    const warning = plan.warnings.find((w) => w.id === 'blobs/md5');
    expect(warning?.code).toBe('UNKNOWN_BLOB_ALGORITHM');
    expect(warning?.message).toContain('sha256');
    const result = await applyLayoutPlan(a.dir, plan);
    expect(result.outcomes.some((o) => o.id.startsWith('md5:'))).toBe(false);
    expect(
      await readFile(join(a.dir, 'blobs', 'md5', 'd41d8cd98f00b204e9800998ecf8427e'), 'utf8'),
    ).toBe('x');
  });

  it('like `umoci gc`, regprune leaves blobs/backup -> victim and blobs/md5 alone', async () => {
    const root = fresh('umoci-victim-');
    const a = await twoImages(join(root, 'L'), 'umoci victim');
    await mkdir(join(root, 'victim'));
    await writeFile(join(root, 'victim', 'id_rsa'), 'PRIVATE KEY');
    await symlink('../../victim', join(a.dir, 'blobs', 'backup'));
    await mkdir(join(a.dir, 'blobs', 'md5'));
    await writeFile(join(a.dir, 'blobs', 'md5', 'abc'), 'x');
    // snapshot() does not follow links, so the two folders are compared on their own.
    const outside = async () => [
      await snapshot(join(root, 'victim')),
      await snapshot(join(a.dir, 'blobs', 'md5')),
    ];
    const before = await outside();
    await umociGc(a.dir);
    expect(await outside()).toEqual(before);
    await applyLayoutPlan(a.dir, planCleanup(await loadLayoutGraph(a.dir), ['keep', 'drop']));
    expect(await outside()).toEqual(before);
  });
});

describe('links to single files', () => {
  it('a stray blob that is a symbolic link to an outside file: the link goes, the outside file stays', async () => {
    const root = fresh('file-link-');
    const a = await twoImages(join(root, 'L'), 'file link');
    await writeFile(join(root, 'outside'), 'keep me');
    const name = 'b'.repeat(64);
    await symlink('../../../outside', join(a.dir, 'blobs', 'sha256', name));
    const plan = planCleanup(await loadLayoutGraph(a.dir), ['keep', 'drop']);
    const result = await applyLayoutPlan(a.dir, plan);
    expect(result.outcomes.find((o) => o.id === `sha256:${name}`)?.status).toBe('done');
    expect(await readdir(join(a.dir, 'blobs', 'sha256'))).not.toContain(name);
    expect(await readFile(join(root, 'outside'), 'utf8')).toBe('keep me');
  });

  it('index.json a symbolic link to an outside file: apply replaces the link with a file of the layout, the outside file is not written', async () => {
    const root = fresh('index-link-');
    const a = await twoImages(join(root, 'L'), 'index link');
    await rename(join(a.dir, 'index.json'), join(root, 'index.json'));
    await symlink('../index.json', join(a.dir, 'index.json'));
    const outsideBefore = await readFile(join(root, 'index.json'), 'utf8');
    await applyLayoutPlan(a.dir, planCleanup(await loadLayoutGraph(a.dir), ['keep']));
    expect(await readFile(join(root, 'index.json'), 'utf8')).toBe(outsideBefore);
    expect((await lstat(join(a.dir, 'index.json'))).isFile()).toBe(true);
    expect(await refNames(a.dir)).toEqual(['keep']);
  });
});

describe('a folder swapped for a symbolic link between load and apply', () => {
  it('blobs/sha256 replaced by a link to an outside folder after index.json is rewritten: no file there is removed, each removal fails naming the folder', async () => {
    const root = fresh('swap-');
    const a = await twoImages(join(root, 'L'), 'swap');
    const moved = join(root, 'outside');
    const before = await snapshot(join(a.dir, 'blobs', 'sha256'));
    const plan = planCleanup(await loadLayoutGraph(a.dir), ['keep']);
    let swapped = false;
    const result = await applyLayoutPlan(a.dir, plan, {
      onProgress: ({ outcome }) => {
        if (swapped || outcome.action === 'delete-blob') return;
        // Synchronous, so the swap happens before any removal starts.
        renameSync(join(a.dir, 'blobs', 'sha256'), moved);
        symlinkSync(moved, join(a.dir, 'blobs', 'sha256'));
        swapped = true;
      },
    });
    expect(swapped).toBe(true);
    expect(await snapshot(moved)).toEqual(before);
    const removals = result.outcomes.filter((o) => o.action === 'delete-blob');
    expect(removals.length).toBe((a.own.drop as string[]).length);
    for (const o of removals) {
      expect(o.status).toBe('failed');
      expect(o.reason).toContain('blobs/sha256');
    }
  });
});

describe('files that are not regular files are refused, never read or waited on', () => {
  const fifos: string[] = [];
  afterEach(async () => {
    // Unblocks a reader stuck on a FIFO (the code before the fix), so the run can end.
    for (const fifo of fifos.splice(0)) {
      try {
        const handle = await open(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
        await handle.close();
      } catch {
        // no reader waiting
      }
    }
  });
  const mkfifo = async (path: string) => {
    await rm(path, { force: true });
    await run('mkfifo', [path]);
    fifos.push(path);
  };

  it('a manifest blob that is a FIFO: load and apply reject within seconds with InvalidLayoutError naming the file', async () => {
    const a = await twoImages(fresh('fifo-manifest-'), 'fifo manifest');
    const digest = (a.desc.drop as Descriptor).digest;
    const file = `blobs/sha256/${digest.slice(7)}`;
    await mkfifo(join(a.dir, file));
    const load = within(3000, loadLayoutGraph(a.dir));
    await expect(load).rejects.toBeInstanceOf(InvalidLayoutError);
    await expect(load).rejects.toMatchObject({ file });
    await expect(load).rejects.toThrow(/not a regular file/);
    const plan = { ...emptyPlan() };
    await expect(within(3000, applyLayoutPlan(a.dir, plan))).rejects.toMatchObject({ file });
  });

  it('a config blob of size 0 that is a FIFO: loading with dates rejects within seconds naming the file', async () => {
    const dir = fresh('fifo-config-');
    await buildLayout(dir, { images: {} });
    const emptyDigest = sha256('');
    const config = { mediaType: OCI_CONFIG, digest: emptyDigest, size: 0 };
    const manifest = await writeBlob(
      dir,
      JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers: [] }),
    );
    await writeIndexJson(dir, {
      schemaVersion: 2,
      manifests: [{ mediaType: OCI_MANIFEST, ...manifest, annotations: { [REF_NAME]: 'x' } }],
    });
    const file = `blobs/sha256/${emptyDigest.slice(7)}`;
    await mkfifo(join(dir, file));
    const load = within(3000, loadLayoutGraph(dir));
    await expect(load).rejects.toMatchObject({ name: 'InvalidLayoutError', file });
    await expect(load).rejects.toThrow(/not a regular file/);
  });

  it('a layer blob that is a FIFO is refused as not a regular file (its size 0 matches the descriptor)', async () => {
    const dir = fresh('fifo-layer-');
    await buildLayout(dir, { images: {} });
    const emptyDigest = sha256('');
    const config = await writeBlob(dir, '{}');
    const manifest = await writeBlob(
      dir,
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: { mediaType: OCI_CONFIG, ...config },
        layers: [{ mediaType: OCI_LAYER, digest: emptyDigest, size: 0 }],
      }),
    );
    await writeIndexJson(dir, {
      schemaVersion: 2,
      manifests: [{ mediaType: OCI_MANIFEST, ...manifest }],
    });
    const file = `blobs/sha256/${emptyDigest.slice(7)}`;
    await mkfifo(join(dir, file));
    const load = within(3000, loadLayoutGraph(dir, { dates: false }));
    await expect(load).rejects.toMatchObject({ name: 'InvalidLayoutError', file });
    await expect(load).rejects.toThrow(/not a regular file/);
  });

  it('index.json a FIFO, oci-layout a FIFO: rejected within seconds naming the file', async () => {
    for (const name of ['index.json', 'oci-layout']) {
      const a = await twoImages(fresh('fifo-root-'), 'fifo root');
      await mkfifo(join(a.dir, name));
      const load = within(3000, loadLayoutGraph(a.dir));
      await expect(load).rejects.toMatchObject({ name: 'InvalidLayoutError', file: name });
      await expect(load).rejects.toThrow(/not a regular file/);
    }
  });

  it('index.json and oci-layout symbolic links to /dev/zero: rejected within seconds, nothing read', async () => {
    for (const name of ['index.json', 'oci-layout']) {
      const a = await twoImages(fresh('zero-'), 'zero');
      await rm(join(a.dir, name));
      await symlink('/dev/zero', join(a.dir, name));
      const load = within(3000, loadLayoutGraph(a.dir));
      await expect(load).rejects.toMatchObject({ name: 'InvalidLayoutError', file: name });
      await expect(load).rejects.toThrow(/not a regular file \(a character device\)/);
    }
  });

  it('a directory where index.json should be is refused naming it', async () => {
    const a = await twoImages(fresh('dir-index-'), 'dir index');
    await rm(join(a.dir, 'index.json'));
    await mkdir(join(a.dir, 'index.json'));
    await expect(loadLayoutGraph(a.dir)).rejects.toMatchObject({
      name: 'InvalidLayoutError',
      file: 'index.json',
    });
  });

  it('an index.json over the size limit is refused before it is read', async () => {
    const a = await twoImages(fresh('big-index-'), 'big index');
    const handle = await open(join(a.dir, 'index.json'), 'r+');
    // A sparse file: the size says 65 MiB, nothing is written.
    await handle.truncate(65 * 1024 * 1024);
    await handle.close();
    await expect(loadLayoutGraph(a.dir)).rejects.toThrow(/index\.json .*over the 64 MiB limit/);
  });

  it('a stray FIFO named like a blob is neither read nor removed by apply', async () => {
    const a = await twoImages(fresh('fifo-stray-'), 'fifo stray');
    const stray = join(a.dir, 'blobs', 'sha256', 'a'.repeat(64));
    await mkfifo(stray);
    const plan = planCleanup(await loadLayoutGraph(a.dir), ['keep']);
    const result = await within(3000, applyLayoutPlan(a.dir, plan));
    expect(result.outcomes.some((o) => o.id === `sha256:${'a'.repeat(64)}`)).toBe(false);
    expect((await readdir(join(a.dir, 'blobs', 'sha256'))).includes('a'.repeat(64))).toBe(true);
  });
});

describe('paths joined from digests follow the digest grammar', () => {
  const bad = [
    'sha256:../../../etc/passwd',
    '../x:abc',
    'sha256:abc/def',
    'foo:..',
    '..:abc',
    'sha256:',
    'backup/../..:x',
  ];
  for (const digest of bad) {
    it(`index.json naming ${JSON.stringify(digest)} is refused before any file is opened`, async () => {
      const a = await twoImages(fresh('grammar-'), 'grammar');
      const index = await readIndexJson(a.dir);
      index.manifests.push({ mediaType: OCI_MANIFEST, digest, size: 2 });
      await writeIndexJson(a.dir, { schemaVersion: 2, mediaType: OCI_INDEX, ...index });
      await expect(loadLayoutGraph(a.dir)).rejects.toThrow(/digest/);
    });
  }

  it('a plan deleting "@sha256:../../x" is refused as made for another target', async () => {
    const a = await twoImages(fresh('grammar-plan-'), 'grammar plan');
    const plan = planCleanup(await loadLayoutGraph(a.dir), ['keep']);
    const forged: CleanupPlan = {
      ...plan,
      delete: [{ ...(plan.delete[0] as CleanupPlan['delete'][number]), image: '@sha256:../../x' }],
    };
    await expect(applyLayoutPlan(a.dir, forged)).rejects.toBeInstanceOf(PlanMismatchError);
  });
});

function emptyPlan(): CleanupPlan {
  return {
    format: 'regprune.plan.v1',
    keptTags: [],
    untag: [],
    delete: [],
    keep: [],
    blobs: [],
    reclaimableBytes: 0,
    summary: {
      images: 0,
      tags: 0,
      keptImages: 0,
      deletedImages: 0,
      untaggedTags: 0,
      deletedTags: 0,
    },
    refused: null,
    warnings: [],
  };
}

describe('an untagged base image whose file is not a regular file in the layout', () => {
  const spec = {
    images: {
      base: { layers: ['os'] },
      app: { layers: ['os', 'app'], base: 'base' },
    },
    tags: { latest: 'app' },
  };
  let n = 0;
  const fresh = async () => join(work(), `untagged-base-${n++}`);

  it.each([
    ['a FIFO', (file: string) => run('mkfifo', [file])],
    ['a link to /dev/zero', (file: string) => symlink('/dev/zero', file)],
    ['a link out of the layout', (file: string) => symlink('/etc/hostname', file)],
  ])(
    'whose file is %s is not read: the load ends with an UNRESOLVED_BASE warning',
    async (_what, make) => {
      const dir = await fresh();
      const built = await buildLayout(dir, spec);
      const file = blobPath(dir, built.desc.base?.digest as string);
      await rm(file);
      await make(file);
      const graph = await loadLayoutGraph(dir);
      const app = graph.tagTarget('latest') as string;
      expect(graph.targetsOf(app, 'parent')).toEqual([]);
      expect(graph.imageInfo(app)?.warnings?.map((w) => w.code)).toContain('UNRESOLVED_BASE');
    },
  );
});
