/**
 * applyLayoutPlan at scale: layouts with hundreds of images and about a thousand blob files, where
 * stats and removals run several at a time. Exactly the blobs no remaining image needs go, kept
 * tags still read completely (skopeo), and the edge cases of the blob listing (links, directories,
 * shared blobs that are missing, more manifests than open files) behave as they always did.
 */
import { execFile } from 'node:child_process';
import { mkdir, rm, stat, symlink, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type OperationOutcome, planCleanup } from '../../src/index.js';
import { applyLayoutPlan, InvalidLayoutError, loadLayoutGraph } from '../../src/layout/index.js';
import {
  blobPath,
  buildLayout,
  type ImageSpec,
  type IndexSpec,
  type LayoutSpec,
  listBlobs,
  reachableBlobs,
  writeBlob,
} from '../helpers/layout-builder.js';
import { skopeoReadsTag, umociGc } from '../helpers/layout-tools.js';
import { useTempDir } from '../helpers/temp-dir.js';

const run = promisify(execFile);
const ROOT = join(import.meta.dirname, '..', '..');

const work = useTempDir('regprune-layout-many-');
let counter = 0;
const fresh = () => join(work(), `l${counter++}`);

/** A large layout as drawn: plain images, indexes over two of them, tags, garbage. */
interface Drawn {
  images: Array<{ own: number; shared: number | undefined; tagged: boolean }>;
  indexes: Array<[number, number]>;
  pool: number;
  strays: number;
  keep: boolean[];
}

const drawn: fc.Arbitrary<Drawn> = fc
  .record({
    count: fc.integer({ min: 120, max: 220 }),
    pool: fc.integer({ min: 1, max: 12 }),
    strays: fc.integer({ min: 0, max: 40 }),
    seed: fc.array(fc.nat(1_000_000), { minLength: 300, maxLength: 300 }),
    indexCount: fc.integer({ min: 0, max: 25 }),
  })
  .map(({ count, pool, strays, seed, indexCount }) => {
    const at = (i: number) => seed[i % seed.length] as number;
    const images = Array.from({ length: count }, (_, i) => ({
      own: at(i) % 3,
      shared: at(i + 7) % 4 === 0 ? undefined : at(i + 13) % pool,
      tagged: at(i + 29) % 5 !== 0,
    }));
    const indexes = Array.from({ length: indexCount }, (_, k): [number, number] => {
      const a = at(k * 3 + 1) % count;
      const b = (a + 1 + (at(k * 3 + 2) % (count - 1))) % count;
      return [a, b];
    });
    const keep = Array.from({ length: count + indexCount }, (_, i) => at(i * 11 + 5) % 2 === 0);
    return { images, indexes, pool, strays, keep };
  });

interface Case {
  spec: LayoutSpec;
  keepTags: string[];
  /** Names the kept tags reach: their images and the children of kept indexes. */
  kept: Set<string>;
  indexTags: Set<string>;
}

function toCase(d: Drawn): Case {
  const images: Record<string, ImageSpec | IndexSpec> = {};
  d.images.forEach((img, i) => {
    const layers = Array.from({ length: img.own }, (_, k) => `own layer ${k} of ${i}`);
    if (img.shared !== undefined) layers.unshift(`shared layer ${img.shared}`);
    images[`i${i}`] = { layers, platform: { os: 'linux', architecture: 'amd64' } };
  });
  const listed = new Set<string>();
  d.indexes.forEach(([a, b], k) => {
    images[`x${k}`] = { kind: 'index', children: [`i${a}`, `i${b}`] };
    listed.add(`i${a}`).add(`i${b}`);
  });
  // Every index is tagged; an image is tagged as drawn, else listed untagged unless an index
  // lists it (so every image stays reachable from index.json before the plan).
  const tags: Record<string, string> = {};
  const untagged: string[] = [];
  d.images.forEach((img, i) => {
    if (img.tagged) tags[`t-i${i}`] = `i${i}`;
    else if (!listed.has(`i${i}`)) untagged.push(`i${i}`);
  });
  d.indexes.forEach((_, k) => {
    tags[`t-x${k}`] = `x${k}`;
  });
  const keepTags = Object.keys(tags).filter((_, i) => d.keep[i] === true);
  const kept = new Set<string>();
  for (const tag of keepTags) {
    const name = tags[tag] as string;
    kept.add(name);
    const node = images[name];
    if (node?.kind === 'index') for (const c of node.children) kept.add(c);
  }
  const indexTags = new Set(Object.keys(tags).filter((t) => t.startsWith('t-x')));
  return { spec: { images, tags, untagged }, keepTags, kept, indexTags };
}

/** `digest → size` of every blob file, read with plain stats (not regprune's reader). */
async function blobSizes(dir: string): Promise<Map<string, number>> {
  const sizes = new Map<string, number>();
  for (const d of await listBlobs(dir)) sizes.set(d, (await stat(blobPath(dir, d))).size);
  return sizes;
}

const removedIds = (outcomes: OperationOutcome[]) =>
  outcomes.filter((o) => o.action === 'delete-blob').map((o) => o.id);

describe('applyLayoutPlan on layouts with many blobs', () => {
  it('removes exactly the blobs no kept image needs, reports each once with its size, and kept tags read completely', async () => {
    await fc.assert(
      fc.asyncProperty(drawn, async (d) => {
        const c = toCase(d);
        const b = await buildLayout(fresh(), c.spec);
        for (let s = 0; s < d.strays; s++) await writeBlob(b.dir, `left over ${s}`);
        const before = await blobSizes(b.dir);
        const expected = [...new Set([...c.kept].flatMap((n) => b.own[n] as string[]))].sort();
        const gone = [...before.keys()].filter((x) => !expected.includes(x)).sort();
        const goneBytes = gone.reduce((sum, x) => sum + (before.get(x) as number), 0);

        const plan = planCleanup(await loadLayoutGraph(b.dir), c.keepTags);
        const dry = await applyLayoutPlan(b.dir, plan, { dryRun: true });
        expect(await blobSizes(b.dir)).toEqual(before);
        expect([...removedIds(dry.outcomes)].sort()).toEqual(gone);
        expect(dry.reclaimableBytes).toBe(goneBytes);

        const events: Array<{ done: number; total: number; outcome: OperationOutcome }> = [];
        const result = await applyLayoutPlan(b.dir, plan, { onProgress: (e) => events.push(e) });

        expect(await listBlobs(b.dir)).toEqual(expected);
        // Listed in digest order whatever order the removals finished in.
        expect(removedIds(result.outcomes)).toEqual(gone);
        expect(removedIds(result.outcomes)).toEqual(removedIds(dry.outcomes));
        for (const o of result.outcomes.filter((x) => x.action === 'delete-blob')) {
          expect(o.status).toBe('done');
          expect(o.reason).toContain(`(${before.get(o.id)} bytes`);
        }
        expect(result.reclaimableBytes).toBe(goneBytes);
        expect(result.totals.failed).toBe(0);
        // Every outcome reported exactly once, counting up to the total.
        expect(events.map((e) => e.done)).toEqual(result.outcomes.map((_, i) => i + 1));
        expect(events.every((e) => e.total === result.outcomes.length)).toBe(true);
        expect(new Set(events.map((e) => e.outcome))).toEqual(new Set(result.outcomes));

        // Independent checks: what is left is exactly what index.json reaches, and complete.
        expect([...(await reachableBlobs(b.dir))].sort()).toEqual(expected);
        await umociGc(b.dir);
        expect(await listBlobs(b.dir)).toEqual(expected);
        const index = c.keepTags.find((t) => c.indexTags.has(t));
        const plain = c.keepTags.find((t) => !c.indexTags.has(t));
        for (const tag of [index, plain]) if (tag) await skopeoReadsTag(b.dir, tag);
        await rm(b.dir, { recursive: true, force: true });
      }),
      { numRuns: 4 },
    );
  }, 180_000);

  it('an abort during the removals stops them between files; the layout stays valid and the same plan finishes the job', async () => {
    const images: Record<string, ImageSpec> = {};
    const tags: Record<string, string> = {};
    for (let i = 0; i < 80; i++) {
      images[`i${i}`] = { layers: ['base', `own ${i}`] };
      tags[`t${i}`] = `i${i}`;
    }
    const b = await buildLayout(fresh(), { images, tags });
    const keepTags = ['t0', 't1'];
    const expected = [...new Set(['i0', 'i1'].flatMap((n) => b.own[n] as string[]))].sort();
    const plan = planCleanup(await loadLayoutGraph(b.dir), keepTags);

    const controller = new AbortController();
    const error = await applyLayoutPlan(b.dir, plan, {
      signal: controller.signal,
      onProgress: (e) => {
        if (e.outcome.action === 'delete-blob') controller.abort();
      },
    }).catch((e: unknown) => e);
    expect((error as Error).name).toBe('AbortError');
    const left = await listBlobs(b.dir);
    for (const x of expected) expect(left).toContain(x);
    expect(left.length).toBeGreaterThan(expected.length); // stopped before the end
    // index.json was rewritten before any blob went: it names only the kept tags.
    expect([...(await reachableBlobs(b.dir))].sort()).toEqual(expected);
    await skopeoReadsTag(b.dir, 't0');

    const rest = await applyLayoutPlan(b.dir, plan);
    expect(rest.totals.failed).toBe(0);
    expect(await listBlobs(b.dir)).toEqual(expected);
    await skopeoReadsTag(b.dir, 't1');
  });

  it('blob entries that are links or directories are treated as before: a needed link stays, a stray link goes (not its target), a directory stays', async () => {
    const b = await buildLayout(fresh(), {
      images: { keep: { layers: ['kept layer'] }, drop: { layers: ['dropped layer'] } },
      tags: { keep: 'keep', drop: 'drop' },
    });
    const outside = join(work(), `outside-${counter++}`);
    await mkdir(outside);
    // A kept image's layer as a link to a file outside the layout.
    const keptLayer = (b.own.keep as string[])[2] as string;
    await writeFile(join(outside, 'kept'), 'kept layer');
    await unlink(blobPath(b.dir, keptLayer));
    await symlink(join(outside, 'kept'), blobPath(b.dir, keptLayer));
    // A stray blob that is a link, and a directory with a digest's name.
    const strayContent = 'stray behind a link';
    const stray = await writeBlob(outside, strayContent);
    await symlink(blobPath(outside, stray.digest), blobPath(b.dir, stray.digest));
    const dirDigest = `sha256:${'d'.repeat(64)}`;
    await mkdir(blobPath(b.dir, dirDigest));

    const plan = planCleanup(await loadLayoutGraph(b.dir), ['keep']);
    const result = await applyLayoutPlan(b.dir, plan);
    const left = await listBlobs(b.dir);
    expect(left).toContain(keptLayer);
    expect(left).not.toContain(stray.digest);
    expect(left).toContain(dirDigest);
    expect((await stat(blobPath(outside, stray.digest))).size).toBe(stray.size);
    const strayOutcome = result.outcomes.find((o) => o.id === stray.digest);
    expect(strayOutcome?.status).toBe('done');
    expect(strayOutcome?.reason).toContain(`(${stray.size} bytes; no image of index.json`);
    expect(result.outcomes.find((o) => o.id === dirDigest)).toBeUndefined();
    await skopeoReadsTag(b.dir, 'keep');
  });

  it('a missing layer that many manifests share is reported for the first of them in index.json order, every time', async () => {
    const images: Record<string, ImageSpec> = {};
    const tags: Record<string, string> = {};
    for (let i = 0; i < 40; i++) {
      images[`i${i}`] = { layers: [`own ${i}`, 'shared base'] };
      tags[`t${i}`] = `i${i}`;
    }
    const b = await buildLayout(fresh(), { images, tags });
    const shared = (b.own.i0 as string[])[3] as string;
    expect((b.own.i39 as string[])[3]).toBe(shared);
    await unlink(blobPath(b.dir, shared));
    const first = (b.own.i0 as string[])[0] as string;
    for (let attempt = 0; attempt < 5; attempt++) {
      const error = await loadLayoutGraph(b.dir).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidLayoutError);
      expect((error as Error).message).toContain(
        `blobs/sha256/${first.slice(7)} layers[1] needs it, but it is missing (ENOENT)`,
      );
    }
  });

  it('loads and prunes a layout with more manifests than the process may open files', async () => {
    const images: Record<string, ImageSpec> = {};
    const tags: Record<string, string> = {};
    for (let i = 0; i < 300; i++) {
      images[`i${i}`] = { layers: [`own ${i}`] };
      tags[`t${i}`] = `i${i}`;
    }
    const b = await buildLayout(fresh(), { images, tags });
    const script = `
      const { planCleanup } = await import(${JSON.stringify(join(ROOT, 'src/index.ts'))});
      const { applyLayoutPlan, loadLayoutGraph } = await import(${JSON.stringify(join(ROOT, 'src/layout/index.ts'))});
      const dir = process.argv[1];
      const plan = planCleanup(await loadLayoutGraph(dir), ['t0']);
      const result = await applyLayoutPlan(dir, plan);
      console.log(JSON.stringify(result.totals));
    `;
    // 128 open files: far fewer than the 300 manifests index.json names.
    const { stdout } = await run(
      'bash',
      [
        '-c',
        'ulimit -n 128 && exec node --import tsx --input-type=module -e "$1" "$2"',
        'bash',
        script,
        b.dir,
      ],
      { cwd: ROOT, timeout: 60_000 },
    );
    expect(JSON.parse(stdout)).toMatchObject({ failed: 0, skipped: 0 });
    expect(await listBlobs(b.dir)).toEqual([...(b.own.i0 as string[])].sort());
    await skopeoReadsTag(b.dir, 't0');
  });
});
