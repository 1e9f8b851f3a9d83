/**
 * OCI layout apply benchmark (`npm run bench:layout`): a layout of 2,000 tagged images (a manifest,
 * a config, three layers of its own and one of 40 shared base layers each) plus 100 stray blobs,
 * about 10,000 blob files in all. Plans keeping every other tag, then times `applyLayoutPlan` as a
 * dry run and for real on a fresh copy each round, and `loadLayoutGraph` alone for comparison.
 * Every real run is checked: exactly the blobs of the deleted images and the strays are gone.
 *
 * Options (environment): `ROUNDS` (default 3), `IMAGES` (default 2000), `BASELINE`: the path of
 * another copy's `src` directory (say, the code before a change) to time on identical layouts in
 * the same run, rounds alternating which goes first.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import pLimit from 'p-limit';
import { planCleanup } from '../src/index.js';
import { applyLayoutPlan, loadLayoutGraph } from '../src/layout/index.js';
import { median } from './median.js';

const IMAGES = Number(process.env.IMAGES ?? 2000);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const SHARED = 40;
const OWN_LAYERS = 3;
const STRAYS = 100;

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar';

interface Blob {
  digest: string;
  size: number;
  bytes: Buffer;
}

function blob(content: string): Blob {
  const bytes = Buffer.from(content, 'utf8');
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  return { digest, size: bytes.length, bytes };
}

interface Built {
  dir: string;
  blobCount: number;
  /** Digests that must be gone after keeping every even-numbered image. */
  removable: Set<string>;
  /** Digests that must stay. */
  needed: Set<string>;
}

/** Writes the layout; every blob is content-addressed for real. */
async function buildLayout(dir: string): Promise<Built> {
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  await writeFile(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  const files = new Map<string, Blob>();
  const removable = new Set<string>();
  const needed = new Set<string>();
  const add = (b: Blob) => {
    files.set(b.digest, b);
    return b;
  };
  const shared = Array.from({ length: SHARED }, (_, s) => add(blob(`shared base layer ${s}`)));
  const entries: object[] = [];
  for (let i = 0; i < IMAGES; i++) {
    const keep = i % 2 === 0;
    const own = Array.from({ length: OWN_LAYERS }, (_, l) => add(blob(`layer ${l} of ${i}`)));
    // Neighbouring images share a base layer, so a deleted image's base is one a kept image needs.
    const base = shared[Math.floor(i / 2) % SHARED] as Blob;
    const layers = [base, ...own];
    const config = add(
      blob(
        JSON.stringify({
          architecture: 'amd64',
          os: 'linux',
          created: '2024-01-01T00:00:00Z',
          config: { Labels: { image: String(i) } },
          rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) },
        }),
      ),
    );
    const manifest = add(
      blob(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: OCI_MANIFEST,
          config: { mediaType: OCI_CONFIG, digest: config.digest, size: config.size },
          layers: layers.map((l) => ({ mediaType: OCI_LAYER, digest: l.digest, size: l.size })),
        }),
      ),
    );
    for (const b of [manifest, config, ...own]) (keep ? needed : removable).add(b.digest);
    needed.add(base.digest);
    entries.push({
      mediaType: OCI_MANIFEST,
      digest: manifest.digest,
      size: manifest.size,
      annotations: { 'org.opencontainers.image.ref.name': `img-${String(i).padStart(5, '0')}` },
    });
  }
  for (let s = 0; s < STRAYS; s++) removable.add(add(blob(`left over by a copy ${s}`)).digest);
  for (const d of needed) removable.delete(d);
  const limit = pLimit(32);
  await Promise.all(
    [...files.values()].map((b) =>
      limit(() => writeFile(join(dir, 'blobs', 'sha256', b.digest.slice(7)), b.bytes)),
    ),
  );
  await writeFile(
    join(dir, 'index.json'),
    JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: entries }),
  );
  return { dir, blobCount: files.size, removable, needed };
}

const ms = (x: number) => `${x.toFixed(0)} ms`;

type LayoutModule = typeof import('../src/layout/index.js');
type CoreModule = typeof import('../src/index.js');
interface Impl {
  name: string;
  layout: LayoutModule;
  core: Pick<CoreModule, 'planCleanup'>;
  load: number[];
  dry: number[];
  real: number[];
  removed: number;
}
const impls: Impl[] = [
  {
    name: 'this tree',
    layout: { applyLayoutPlan, loadLayoutGraph } as LayoutModule,
    core: { planCleanup },
  },
].map((x) => ({ ...x, load: [], dry: [], real: [], removed: 0 }));
if (process.env.BASELINE) {
  // Another copy of src (e.g. before a change), run on identical layouts in the same process, with
  // its own core: an ImageGraph of one copy is not one of the other's.
  const layout = (await import(join(process.env.BASELINE, 'layout', 'index.ts'))) as LayoutModule;
  const core = (await import(join(process.env.BASELINE, 'index.ts'))) as CoreModule;
  impls.unshift({
    name: `baseline ${process.env.BASELINE}`,
    layout,
    core,
    load: [],
    dry: [],
    real: [],
    removed: 0,
  });
}

const keep = Array.from({ length: IMAGES }, (_, i) => i)
  .filter((i) => i % 2 === 0)
  .map((i) => `img-${String(i).padStart(5, '0')}`);

/** Builds a fresh layout, then times load, dry-run apply and apply, and checks the result. */
async function round(impl: Impl, dir: string): Promise<Built> {
  const b = await buildLayout(dir);
  const { loadLayoutGraph: load, applyLayoutPlan: apply } = impl.layout;
  let t = performance.now();
  const graph = await load(b.dir, { dates: false });
  impl.load.push(performance.now() - t);
  const plan = impl.core.planCleanup(graph, keep);

  t = performance.now();
  await apply(b.dir, plan, { dryRun: true });
  impl.dry.push(performance.now() - t);

  t = performance.now();
  const result = await apply(b.dir, plan);
  impl.real.push(performance.now() - t);

  // The run must have removed exactly the unneeded blobs, or its time means nothing.
  const left = new Set((await readdir(join(b.dir, 'blobs', 'sha256'))).map((n) => `sha256:${n}`));
  for (const d of b.needed) if (!left.has(d)) throw new Error(`needed blob ${d} was removed`);
  for (const d of b.removable) if (left.has(d)) throw new Error(`blob ${d} was left behind`);
  if (left.size !== b.needed.size)
    throw new Error(`${left.size} blobs left, expected ${b.needed.size}`);
  if (result.totals.failed > 0) throw new Error(`${result.totals.failed} operations failed`);
  impl.removed = result.outcomes.filter((o) => o.action === 'delete-blob').length;
  await rm(b.dir, { recursive: true, force: true });
  return b;
}

const work = await mkdtemp(join(tmpdir(), 'regprune-bench-layout-'));
try {
  let built: Built | undefined;
  for (let r = 0; r < ROUNDS; r++) {
    // Alternate which implementation goes first, so neither always meets a colder cache.
    const order = r % 2 === 0 ? impls : [...impls].reverse();
    for (const [i, impl] of order.entries()) built = await round(impl, join(work, `r${r}-${i}`));
  }
  const b = built as Built;
  console.log(
    `OCI layout apply benchmark, Node ${process.version}, ${cpus().length} cores, ${ROUNDS} rounds (median; every round on a freshly written layout)`,
  );
  console.log('');
  console.log(
    `| ${IMAGES} images, ${b.blobCount} blob files, keep ${IMAGES / 2} | loadLayoutGraph (no dates) | apply, dry run | apply | blobs removed |`,
  );
  console.log('|---|---:|---:|---:|---:|');
  for (const impl of impls) {
    console.log(
      `| ${impl.name} | ${ms(median(impl.load))} | ${ms(median(impl.dry))} | ${ms(median(impl.real))} | ${impl.removed} |`,
    );
  }
  console.log('');
  for (const impl of impls) {
    console.log(
      `${impl.name}: load ${impl.load.map(ms).join(', ')}; dry run ${impl.dry.map(ms).join(', ')}; apply ${impl.real.map(ms).join(', ')}`,
    );
  }
  if (impls.length === 2) {
    const [before, after] = impls as [Impl, Impl];
    console.log('');
    console.log(
      `apply: ${(median(before.real) / median(after.real)).toFixed(1)}x faster than the baseline; dry run ${(median(before.dry) / median(after.dry)).toFixed(1)}x; load ${(median(before.load) / median(after.load)).toFixed(1)}x`,
    );
  }
} finally {
  await rm(work, { recursive: true, force: true });
}
