import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApplyResult, type CleanupPlan, planCleanup, RegpruneError } from '../../src/index.js';
import { applyPlan, loadGraph, RegistryClient } from '../../src/registry/index.js';
import {
  type Fault,
  type FaultProxy,
  type FaultRule,
  startFaultProxy,
} from '../helpers/fault-proxy.js';
import { cleanupFixture } from '../helpers/fixtures.js';
import { type ForeignServer, startForeignServer } from '../helpers/foreign-server.js';
import { manifestStatus } from '../helpers/push.js';
import { type RunningRegistry, startRegistry } from '../helpers/registry-server.js';
import { type RepositoryState, repositoryState } from '../helpers/registry-state.js';
import { pullsCompletely } from '../helpers/skopeo.js';

let reg: RunningRegistry;
let proxy: FaultProxy;
/** Another origin the registry "redirects" to, answering 401 with a token realm of its own. */
let foreign: ForeignServer;
const foreignRedirect: Fault = { kind: 'redirect', to: '' };
let dir: string;
let direct: RegistryClient;
/** The fault-free load of `loadbase`, as JSON. */
let baseline: unknown;
/** The end state of a fault-free apply of the fixture. */
let reference: RepositoryState;

const FIXTURE = { aliases: 1, drops: 2 };

beforeAll(async () => {
  reg = await startRegistry();
  proxy = await startFaultProxy(reg.url);
  foreign = await startForeignServer((_req, res) => {
    res.writeHead(401, {
      'www-authenticate': `Bearer realm="${foreign.url}/token",service="foreign"`,
      'content-length': '0',
    });
    res.end();
  });
  foreignRedirect.to = foreign.url;
  dir = await mkdtemp(join(tmpdir(), 'regprune-faults-'));
  direct = new RegistryClient({ url: reg.url });
  await cleanupFixture(reg, 'loadbase', FIXTURE);
  baseline = (await loadGraph(direct, { repositories: ['loadbase'] })).toJSON();
  await cleanupFixture(reg, 'reference', FIXTURE);
  const graph = await loadGraph(direct, { repositories: ['reference'] });
  const result = await applyPlan(direct, planCleanup(graph, ['reference:keep']), { graph });
  expect(result.totals).toMatchObject({ failed: 0, skipped: 0 });
  reference = await repositoryState(reg, 'reference');
});
afterAll(async () => {
  await foreign?.stop();
  await proxy?.stop();
  await reg?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** A client through the proxy: short timeouts and backoff so stalls and retries stay quick. */
function faultyClient(): RegistryClient {
  return new RegistryClient({
    url: proxy.url,
    timeout: 400,
    retry: { limit: 3, baseDelay: 5, maxDelay: 2_000 },
    // Small enough that endless pages end in a fraction of a second.
    listLimits: { entries: 2_000 },
  });
}

interface Row {
  fault: string;
  phase: 'load' | 'apply';
  outcome: string;
  runs: number;
}
const rows: Row[] = [];
function count(fault: string, phase: Row['phase'], outcome: string): void {
  const row = rows.find((r) => r.fault === fault && r.phase === phase && r.outcome === outcome);
  if (row) row.runs++;
  else rows.push({ fault, phase, outcome, runs: 1 });
}

const DIGEST_DELETE = /\/manifests\/sha256:(?!0{64})/;
/** A manifest read by tag (the apply's first tag read of a repository GETs every tag). */
const TAG_REF = /\/manifests\/(?!sha256:)/;
const MANIFEST = /\/manifests\//;
const TAGS = /\/tags\/list/;

interface FaultClass {
  name: string;
  fault: Fault;
  /** Where the fault hits during a load. */
  load: FaultRule[][];
  /** Where it hits during an apply. */
  apply: FaultRule[][];
}

const rule = (method: string, path: RegExp, fault: Fault, nth: number[] | 'all' = [1]) => ({
  method,
  path,
  fault,
  nth,
});

function faultClass(
  name: string,
  fault: Fault,
  load: Array<[string, RegExp, (number[] | 'all')?]>,
  apply: Array<[string, RegExp, (number[] | 'all')?]>,
): FaultClass {
  return {
    name,
    fault,
    load: load.map(([m, p, n]) => [rule(m, p, fault, n)]),
    apply: apply.map(([m, p, n]) => [rule(m, p, fault, n)]),
  };
}

const CLASSES: FaultClass[] = [
  faultClass(
    'drop connection',
    { kind: 'drop' },
    [
      ['GET', TAGS],
      ['GET', MANIFEST, 'all'],
    ],
    [
      ['DELETE', DIGEST_DELETE, [1, 3]],
      ['PUT', MANIFEST, 'all'],
    ],
  ),
  faultClass(
    'stall (no answer)',
    { kind: 'stall', ms: 700 },
    [['GET', MANIFEST, [2]]],
    [['DELETE', DIGEST_DELETE, [2]]],
  ),
  faultClass(
    '429 with Retry-After',
    { kind: 'status', status: 429, retryAfter: '1' },
    [['GET', TAGS, [1]]],
    [['DELETE', DIGEST_DELETE, [1, 2]]],
  ),
  faultClass(
    '429 without Retry-After',
    { kind: 'status', status: 429 },
    [
      ['GET', MANIFEST, [1, 2]],
      ['GET', TAGS, 'all'],
    ],
    [['PUT', MANIFEST, [1]]],
  ),
  faultClass(
    '500',
    { kind: 'status', status: 500 },
    [['GET', MANIFEST, [3]]],
    [
      ['DELETE', DIGEST_DELETE, [2]],
      ['GET', TAGS, [1]],
    ],
  ),
  faultClass(
    '502',
    { kind: 'status', status: 502 },
    [['GET', MANIFEST, [1, 2]]],
    [['DELETE', DIGEST_DELETE, 'all']],
  ),
  faultClass(
    '503',
    { kind: 'status', status: 503 },
    [['GET', TAGS, [1]]],
    [['GET', TAG_REF, [1, 2]]],
  ),
  faultClass(
    'body cut short',
    { kind: 'truncate' },
    [
      ['GET', MANIFEST, [1]],
      ['GET', TAGS, 'all'],
    ],
    [
      ['GET', MANIFEST, [1]],
      ['GET', TAGS, [2]],
    ],
  ),
  faultClass(
    'corrupt manifest body',
    { kind: 'corrupt' },
    [['GET', MANIFEST, [2]]],
    [['GET', /\/manifests\/sha256:/, [1]]],
  ),
  faultClass(
    'wrong Docker-Content-Digest',
    { kind: 'wrong-digest' },
    [['GET', MANIFEST, [1]]],
    [['GET', TAG_REF, [1, 3]]],
  ),
  faultClass(
    'looping Link header',
    { kind: 'link-loop' },
    [['GET', TAGS, [1]]],
    [['GET', TAGS, [1]]],
  ),
  faultClass(
    'body dripped (a byte every 150 ms)',
    { kind: 'drip', ms: 150 },
    [['GET', MANIFEST, [1]]],
    [['GET', TAG_REF, [1]]],
  ),
  faultClass(
    'endless Link pages',
    { kind: 'link-endless' },
    [['GET', TAGS, 'all']],
    [['GET', TAGS, 'all']],
  ),
  faultClass(
    '401 from a foreign origin (redirect)',
    foreignRedirect,
    [['GET', MANIFEST, [1]]],
    [['GET', TAG_REF, [1]]],
  ),
];

function errorName(error: unknown): string {
  return error instanceof Error ? error.constructor.name : typeof error;
}

/** Kept tags pull completely, and every image the plan keeps is still there. */
async function assertKeptIntact(repo: string, plan: CleanupPlan): Promise<void> {
  await pullsCompletely(reg.host, repo, 'keep');
  for (const kept of plan.keep) {
    const digest = kept.image.split('@')[1] as string;
    expect(await manifestStatus(reg, repo, digest), kept.image).toBe(200);
  }
}

/** Every untag and delete of the plan has exactly one outcome. */
function assertEveryOperationReported(plan: CleanupPlan, result: ApplyResult): void {
  const ids = result.outcomes.filter((o) => o.action !== 'rewrite').map((o) => o.id);
  expect(ids.sort()).toEqual(
    [...plan.untag.map((op) => op.tag), ...plan.delete.map((op) => op.image)].sort(),
  );
  for (const o of result.outcomes) expect(['done', 'skipped', 'failed']).toContain(o.status);
}

let runNumber = 0;

describe('fault injection between regprune and a real docker-registry 2.8', () => {
  for (const fc of CLASSES) {
    it(`${fc.name}: load is identical or a typed error; apply keeps what is kept and converges`, async () => {
      for (const rules of fc.load) {
        proxy.setRules(rules);
        proxy.injected.length = 0;
        const outcome = await loadGraph(faultyClient(), { repositories: ['loadbase'] }).then(
          (graph) => {
            expect(graph.toJSON()).toEqual(baseline);
            return 'identical to the fault-free load';
          },
          (error: unknown) => {
            expect(error, String(error)).toBeInstanceOf(RegpruneError);
            return `typed error: ${errorName(error)}`;
          },
        );
        expect(proxy.injected.length, `${fc.name}: no fault was injected`).toBeGreaterThan(0);
        count(fc.name, 'load', outcome);
      }

      for (const rules of fc.apply) {
        const repo = `run${++runNumber}`;
        await cleanupFixture(reg, repo, FIXTURE);
        const graph = await loadGraph(direct, { repositories: [repo] });
        const plan = planCleanup(graph, [`${repo}:keep`]);
        const journal = join(dir, `${repo}.jsonl`);
        proxy.setRules(rules);
        proxy.injected.length = 0;
        let outcome: string;
        try {
          const result = await applyPlan(faultyClient(), plan, { graph, journal });
          assertEveryOperationReported(plan, result);
          const { failed, skipped } = result.totals;
          outcome =
            failed + skipped === 0
              ? 'no operation lost'
              : `${failed} failed + ${skipped} skipped, then re-run`;
        } catch (error) {
          expect(error, String(error)).toBeInstanceOf(RegpruneError);
          outcome = `typed error: ${errorName(error)}, then re-run`;
        }
        expect(proxy.injected.length, `${fc.name}: no fault was injected`).toBeGreaterThan(0);
        proxy.setRules([]);
        await assertKeptIntact(repo, plan);
        const again = await applyPlan(faultyClient(), plan, { graph, journal });
        expect(again.totals).toMatchObject({ failed: 0 });
        await assertKeptIntact(repo, plan);
        expect(await repositoryState(reg, repo)).toEqual(reference);
        count(fc.name, 'apply', `${outcome} → converged`);
      }
    });
  }

  afterAll(async () => {
    // The foreign origin's challenge was never taken up: its token realm got no request.
    expect(foreign.received.filter((r) => r.path.startsWith('/token'))).toEqual([]);
    const table = [
      '| Fault | Phase | Outcome | Runs |',
      '| --- | --- | --- | ---: |',
      ...rows.map((r) => `| ${r.fault} | ${r.phase} | ${r.outcome} | ${r.runs} |`),
    ].join('\n');
    process.stdout.write(`\nFault injection results\n${table}\n`);
    await writeFaultTable(table);
  });
});

/**
 * Puts the table into docs/safety.md between the fault-table markers, so the counts the page shows
 * are those of the last run (the rest of the page is prose written by hand). The markers must be
 * there: a page that lost them fails the run instead of getting a table appended somewhere.
 */
async function writeFaultTable(table: string): Promise<void> {
  const path = join(import.meta.dirname, '../../docs/safety.md');
  const start = '<!-- fault-table:start -->';
  const end = '<!-- fault-table:end -->';
  const text = await readFile(path, 'utf8');
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  expect(from, `${path} has no fault-table markers`).toBeGreaterThanOrEqual(0);
  expect(to, `${path}: the fault-table end marker must follow the start`).toBeGreaterThan(from);
  const next = `${text.slice(0, from)}${start}\n${table}\n${text.slice(to)}`;
  if (next !== text) await writeFile(path, next);
}
