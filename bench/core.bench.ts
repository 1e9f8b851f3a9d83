/**
 * Core benchmark (`npm run bench`): registry-shaped graphs of 10k, 100k and 1M images (see
 * graph-generator.ts). For each size, in a child process of its own so that peak RSS is per size:
 * generate the graph JSON (not measured), build it with `ImageGraph.fromJSON`, plan it with
 * `planCleanup` keeping about half of the tags, and time a hand-written typed-array (CSR)
 * reachability pass over the same edges from the same roots. The orphan and reclaimable-blob counts
 * of both must agree, or the run fails.
 *
 * Usage: `npm run bench` (all sizes), `npm run bench -- 10000 100000` (chosen sizes).
 * Env: PLAN_RUNS (timed planCleanup runs per size; at least 2; default 7, 5 at 1M).
 * Writes the table to bench/results/core.md.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ImageGraphJSON } from '../src/core/types.js';
import { ImageGraph, planCleanup } from '../src/index.js';
import { buildCsr, csrReachability } from './csr-baseline.js';
import { generateGraph } from './graph-generator.js';
import { median } from './median.js';

const SEED = 20_240_601;
const DEFAULT_SIZES = [10_000, 100_000, 1_000_000];
const TARGET = { buildS: 20, planS: 5, rssGB: 3, ratio: 3 };
const RESULT_PREFIX = 'BENCH_RESULT ';

interface SizeResult {
  images: number;
  imageEdges: number;
  blobLinks: number;
  blobs: number;
  tags: number;
  keptTags: number;
  orphans: number;
  reclaimableBlobs: number;
  generateS: number;
  buildS: number;
  planRuns: number[];
  /** The first planCleanup on the fresh graph (it also fills the graph's sorted-id caches). */
  planFirstS: number;
  planMedianS: number;
  /** Reading every listing section of a plan (they are built on first read), median over runs. */
  sectionsMedianS: number;
  csrMedianMs: number;
  ratio: number;
  /** (planCleanup + reading every section) / CSR. */
  ratioWithSections: number;
  peakRssMB: number;
}

const gc = (): void => (globalThis as { gc?: () => void }).gc?.();

/** Peak resident set size in MB: VmHWM where /proc has it, else the resource usage's maxRSS. */
function peakRssMB(): number {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    if (match) return Number(match[1]) / 1024;
  } catch {
    // not Linux: fall through
  }
  return process.resourceUsage().maxRSS / 1024;
}

/** Generates the graph and its CSR form (untimed). The JSON sits in a holder so it can be dropped. */
function prepare(size: number) {
  const t = performance.now();
  const generated = generateGraph({ images: size, seed: SEED });
  const generateS = (performance.now() - t) / 1000;
  const { json, keepTags } = generated;
  const csr = buildCsr(json, keepTags);
  const counts = {
    imageEdges: json.parents.length + json.children.length + json.referrers.length,
    blobLinks: csr.blobTarget.length,
    blobs: csr.blobCount,
    tags: Object.keys(json.tags).length,
  };
  const holder: { json: ImageGraphJSON | undefined } = { json };
  return { holder, keepTags, csr, counts, generateS };
}

function measure(size: number): SizeResult {
  const planRunCount = Number(process.env.PLAN_RUNS ?? (size >= 1_000_000 ? 5 : 7));
  if (!(planRunCount >= 2)) throw new Error('PLAN_RUNS must be at least 2 (first + repeated)');
  const { holder, keepTags, csr, counts, generateS } = prepare(size);
  gc();

  let t = performance.now();
  const graph = ImageGraph.fromJSON(holder.json);
  const buildS = (performance.now() - t) / 1000;
  // The graph shares the JSON's strings; drop the rest of the JSON so it does not count twice.
  holder.json = undefined;

  const baseline = csrReachability(csr);
  const planRuns: number[] = [];
  const sectionRuns: number[] = [];
  const csrRuns: number[] = [];
  const timeCsr = (): void => {
    gc();
    t = performance.now();
    const again = csrReachability(csr);
    csrRuns.push(performance.now() - t);
    if (again.orphanedImages !== baseline.orphanedImages)
      throw new Error('CSR is not deterministic');
  };
  // Plan and baseline runs alternate, so both see the machine in the same state.
  for (let i = 0; i < planRunCount; i++) {
    gc();
    t = performance.now();
    const plan = planCleanup(graph, keepTags);
    planRuns.push((performance.now() - t) / 1000);
    t = performance.now();
    const listed =
      plan.keptTags.length +
      plan.untag.length +
      plan.delete.length +
      plan.keep.length +
      plan.blobs.length +
      (plan.tagDecisions?.length ?? 0);
    sectionRuns.push((performance.now() - t) / 1000);
    if (
      listed !==
      plan.summary.keptImages +
        plan.summary.deletedImages +
        plan.summary.untaggedTags +
        plan.blobs.length +
        plan.keptTags.length +
        plan.summary.tags
    ) {
      throw new Error(`size ${size}: the plan's sections disagree with its summary`);
    }
    if (plan.summary.deletedImages !== baseline.orphanedImages) {
      throw new Error(
        `size ${size}: planCleanup deletes ${plan.summary.deletedImages} images, the CSR baseline finds ${baseline.orphanedImages} orphans`,
      );
    }
    if (plan.blobs.length !== baseline.reclaimableBlobs) {
      throw new Error(
        `size ${size}: planCleanup reclaims ${plan.blobs.length} blobs, the CSR baseline ${baseline.reclaimableBlobs}`,
      );
    }
    timeCsr();
  }
  while (csrRuns.length < 7) timeCsr();
  const planMedianS = median(planRuns.slice(1));
  const sectionsMedianS = median(sectionRuns);
  const csrMedianMs = median(csrRuns);
  return {
    images: graph.size,
    ...counts,
    keptTags: keepTags.length,
    orphans: baseline.orphanedImages,
    reclaimableBlobs: baseline.reclaimableBlobs,
    generateS,
    buildS,
    planRuns,
    planFirstS: planRuns[0] as number,
    planMedianS,
    sectionsMedianS,
    csrMedianMs,
    ratio: (planMedianS * 1000) / csrMedianMs,
    ratioWithSections: ((planMedianS + sectionsMedianS) * 1000) / csrMedianMs,
    peakRssMB: peakRssMB(),
  };
}

function runChild(size: number): Promise<SizeResult> {
  const script = fileURLToPath(import.meta.url);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...process.execArgv, script, '--size', String(size)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      out += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const line = out.split('\n').find((l) => l.startsWith(RESULT_PREFIX));
      if (code !== 0 || !line) {
        reject(new Error(`size ${size}: benchmark child exited with ${code}\n${out}`));
        return;
      }
      resolve(JSON.parse(line.slice(RESULT_PREFIX.length)) as SizeResult);
    });
  });
}

const fmtInt = (n: number): string => n.toLocaleString('en-US');
const fmtS = (s: number): string => (s < 1 ? `${(s * 1000).toFixed(0)} ms` : `${s.toFixed(2)} s`);

function table(results: readonly SizeResult[]): string {
  const rows = [
    '| images | image edges | blob links | blobs | tags (kept) | orphans | build (`fromJSON`) | `planCleanup` first | `planCleanup` median of rest (runs) | reading every section | CSR reachability | ratio | ratio with sections read | peak RSS |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of results) {
    rows.push(
      `| ${fmtInt(r.images)} | ${fmtInt(r.imageEdges)} | ${fmtInt(r.blobLinks)} | ${fmtInt(r.blobs)} | ${fmtInt(r.tags)} (${fmtInt(r.keptTags)}) | ${fmtInt(r.orphans)} | ${fmtS(r.buildS)} | ${fmtS(r.planFirstS)} | ${fmtS(r.planMedianS)} (${r.planRuns.length - 1}) | ${fmtS(r.sectionsMedianS)} | ${r.csrMedianMs.toFixed(1)} ms | ${r.ratio.toFixed(1)}x | ${r.ratioWithSections.toFixed(1)}x | ${fmtInt(Math.round(r.peakRssMB))} MB |`,
    );
  }
  return rows.join('\n');
}

function verdicts(results: readonly SizeResult[]): string[] {
  const big = results.find((r) => r.images >= 1_000_000);
  if (!big) return ['Targets apply to the 1M-image graph, which this run did not include.'];
  const line = (ok: boolean, what: string) => `- ${ok ? 'PASS' : 'MISS'}: ${what}`;
  return [
    line(
      big.buildS < TARGET.buildS,
      `1M built in ${fmtS(big.buildS)} (target < ${TARGET.buildS} s)`,
    ),
    line(
      big.planFirstS < TARGET.planS,
      `1M planned in ${fmtS(big.planFirstS)} on the fresh graph, ${fmtS(big.planMedianS)} when repeated (target < ${TARGET.planS} s)`,
    ),
    line(
      big.peakRssMB < TARGET.rssGB * 1024,
      `1M peak RSS ${(big.peakRssMB / 1024).toFixed(2)} GB (target < ${TARGET.rssGB} GB)`,
    ),
    line(
      big.ratio <= TARGET.ratio,
      `1M planCleanup / CSR ratio ${big.ratio.toFixed(2)}x (target <= ${TARGET.ratio}x); ${big.ratioWithSections.toFixed(1)}x when every section of the plan is read as well`,
    ),
  ];
}

async function main(): Promise<void> {
  const sizeFlag = process.argv.indexOf('--size');
  if (sizeFlag >= 0) {
    const result = measure(Number(process.argv[sizeFlag + 1]));
    process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(result)}\n`);
    return;
  }
  const asked = process.argv.slice(2).map(Number).filter(Number.isFinite);
  const sizes = asked.length > 0 ? asked : DEFAULT_SIZES;
  const results: SizeResult[] = [];
  for (const size of sizes) {
    process.stderr.write(`core bench: ${fmtInt(size)} images…\n`);
    const r = await runChild(size);
    process.stderr.write(
      `  generated in ${fmtS(r.generateS)}; plan runs: ${r.planRuns.map(fmtS).join(', ')}\n`,
    );
    results.push(r);
  }
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  const report = [
    `Core benchmark, ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${cpu} (${cpus().length} cores)`,
    '',
    table(results),
    '',
    ...verdicts(results),
    '',
    'Notes:',
    '- Each size runs in its own process; peak RSS is that process’s high-water mark and includes the generated JSON, the graph, the CSR arrays and the plans.',
    '- Build is `ImageGraph.fromJSON` on the generated JSON (validation, blob interning, edge lists, one acyclicity check); generation is not timed.',
    '- `planCleanup(graph, keepTags)` keeps about half of the tags (a list). It decides the whole plan on typed arrays: the kept set with a reason per kept image, the deletion order and waves, the untagged tags, the freed blobs and their bytes, the summary. The listing sections (`keep` with its paths, `delete` with each image’s tags, `untag`, `blobs` sorted by id, `keptTags`, `tagDecisions`: millions of small objects at 1M) are built from those arrays on first read; "reading every section" times that, separately. "First" is the first call on the freshly built graph (it also sorts and caches image and tag ids); the median is over the later calls. The 1M time target is judged on the first call.',
    '- The CSR baseline computes only reachability (kept set, orphan count, reclaimable-blob count) over flat Int32Array edges from pre-resolved roots; it orders nothing and builds no output. "ratio" is the planCleanup median / CSR median (both warm; plan and CSR runs alternate, so both see the machine in the same state); "ratio with sections read" adds the time to read every section. Both agree on the orphan and reclaimable-blob counts (checked on every run).',
  ].join('\n');
  process.stdout.write(`${report}\n`);
  const out = join(dirname(fileURLToPath(import.meta.url)), 'results', 'core.md');
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, `${report}\n`);
  process.stderr.write(`written to ${out}\n`);
}

await main();
