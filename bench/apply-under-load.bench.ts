/**
 * Apply under load (`npm run bench:load`): a registry of 5,500 tags in 20 repositories (4,000
 * images to delete, 1,000 kept, 500 aliases to untag) cleaned at concurrency 16 while another process keeps pushing new
 * tags — new images, and tags onto images the plan deletes. Reports requests per second, peak
 * memory, and for every tag the pusher got acknowledged whether it still resolves to its image.
 * Exits 1 when a tag on a new image lost it (that must never happen).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pLimit from 'p-limit';
import { planCleanup } from '../src/index.js';
import { applyPlan, loadGraph, RegistryClient } from '../src/registry/index.js';
import { manifestStatus, tagManifest } from '../test/helpers/push.js';
import { startRegistry } from '../test/helpers/registry-server.js';
import { pushNamed, pushSharedBlobs, REPOS, type SharedBlobs } from './load/fixture.js';

const PER_REPO = 250;
const ALIASES_PER_REPO = 25;
const IMAGES = PER_REPO * REPOS.length;
const ALIASES = ALIASES_PER_REPO * REPOS.length;
const CONCURRENCY = 16;

const reg = await startRegistry();
const dir = await mkdtemp(join(tmpdir(), 'regprune-load-'));
let pusher: ReturnType<typeof spawn> | undefined;
try {
  const t0 = performance.now();
  const limit = pLimit(CONCURRENCY);
  let blobs: SharedBlobs | undefined;
  for (const repo of REPOS) {
    blobs = await pushSharedBlobs(reg, repo);
    const shared = blobs;
    const digests: string[] = [];
    await Promise.all(
      Array.from({ length: PER_REPO }, (_, i) =>
        limit(async () => {
          digests[i] = await pushNamed(reg, repo, shared, `${repo}/img-${i}`, `img-${i}`);
        }),
      ),
    );
    // Aliases on kept images (every fifth image is kept): these are untagged.
    await Promise.all(
      Array.from({ length: ALIASES_PER_REPO }, (_, a) =>
        limit(() => tagManifest(reg, repo, `alias-${a}`, digests[a * 5] as string)),
      ),
    );
  }
  const seedSeconds = (performance.now() - t0) / 1000;

  const client = new RegistryClient({ url: reg.url, concurrency: CONCURRENCY });
  const graph = await loadGraph(client, { repositories: REPOS });
  const plan = planCleanup(
    graph,
    (tag) => /:img-\d+$/.test(tag) && Number(tag.split('-')[1]) % 5 === 0,
  );
  console.log(
    `seeded ${IMAGES + ALIASES} tags in ${seedSeconds.toFixed(1)} s; plan: ${plan.delete.length} deletes, ${plan.untag.length} untags`,
  );

  const blobsFile = join(dir, 'blobs.json');
  await writeFile(blobsFile, JSON.stringify(blobs));
  const pushed: Array<{ repo: string; tag: string; digest: string; rescue: boolean; at: number }> =
    [];
  pusher = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(import.meta.dirname, 'load/pusher.ts'),
      reg.url,
      blobsFile,
      String(PER_REPO),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let buffer = '';
  pusher.stdout?.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    const lines = buffer.split('\n');
    buffer = lines.pop() ?? '';
    for (const line of lines) if (line) pushed.push(JSON.parse(line));
  });
  // Let the pusher get going before the apply starts.
  while (pushed.length < 20) await new Promise((r) => setTimeout(r, 20));

  let peakRss = 0;
  let peakHeap = 0;
  const sampler = setInterval(() => {
    const m = process.memoryUsage();
    peakRss = Math.max(peakRss, m.rss);
    peakHeap = Math.max(peakHeap, m.heapUsed);
  }, 25);
  const before = client.requestCount;
  const started = performance.now();
  const applyStart = Date.now();
  let lastProgress = 0;
  const result = await applyPlan(client, plan, {
    graph,
    onProgress: ({ done, total }) => {
      if (done - lastProgress >= 500 || done === total) {
        lastProgress = done;
        console.log(
          `  apply: ${done}/${total} after ${((performance.now() - started) / 1000).toFixed(1)} s`,
        );
      }
    },
  });
  const seconds = (performance.now() - started) / 1000;
  const applyEnd = Date.now();
  clearInterval(sampler);
  const requests = client.requestCount - before;
  const exited = new Promise((r) => pusher?.once('exit', r));
  pusher.kill('SIGTERM');
  await exited;
  pusher = undefined;

  // Every acknowledged push: does its tag still resolve to its image?
  const check = new RegistryClient({ url: reg.url, concurrency: CONCURRENCY });
  const lost: typeof pushed = [];
  await Promise.all(
    pushed.map((p) =>
      limit(async () => {
        const now = await check.resolve(p.repo, p.tag);
        const status = await manifestStatus(reg, p.repo, p.digest);
        if (now !== p.digest || status !== 200) lost.push(p);
      }),
    ),
  );
  const during = pushed.filter((p) => p.at >= applyStart && p.at <= applyEnd);
  const lostNew = lost.filter((p) => !p.rescue);
  const lostRescue = lost.filter((p) => p.rescue);
  const rescues = pushed.filter((p) => p.rescue);
  const saved = result.outcomes.filter((o) => o.status === 'skipped').length;
  const rows = [
    ['tags before apply', String(IMAGES + ALIASES)],
    ['operations (untag + delete)', `${plan.untag.length} + ${plan.delete.length}`],
    [
      'outcomes done / skipped / failed',
      `${result.totals.done} / ${result.totals.skipped} / ${result.totals.failed}`,
    ],
    ['apply wall time', `${seconds.toFixed(1)} s`],
    ['requests sent by apply', String(requests)],
    ['requests per second sustained', (requests / seconds).toFixed(0)],
    [
      'peak RSS / heap during apply',
      `${(peakRss / 2 ** 20).toFixed(0)} MiB / ${(peakHeap / 2 ** 20).toFixed(0)} MiB`,
    ],
    ['tags pushed concurrently (during apply)', `${pushed.length} (${during.length})`],
    [
      'new-image tags that lost their image',
      `${lostNew.length} of ${pushed.length - rescues.length}`,
    ],
    ['rescue tags (onto planned images) saved by the re-check', `${saved}`],
    ['rescue tags that lost their image', `${lostRescue.length} of ${rescues.length}`],
  ];
  const table = [
    '| Measure | Value |',
    '| --- | ---: |',
    ...rows.map(([k, v]) => `| ${k} | ${v} |`),
  ].join('\n');
  console.log(table);
  if (lostNew.length > 0) {
    console.error(`FAIL: new tags lost their image: ${lostNew.map((p) => p.tag).join(', ')}`);
    process.exitCode = 1;
  }
} finally {
  pusher?.kill('SIGKILL');
  await reg.stop();
  await rm(dir, { recursive: true, force: true });
}
