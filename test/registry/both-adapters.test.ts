/**
 * One suite, both adapters: the same OCI content as a layout folder and as a repository of a real
 * registry, driven only through the `CleanupTarget` interface. Same graph, same plan, same
 * errors for the same caller mistakes, progress that never counts past its total, and the same
 * images left afterwards.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type CleanupPlan,
  type CleanupTarget,
  type ImageGraph,
  InvalidPlanError,
  PlanMismatchError,
  planCleanup,
} from '../../src/index.js';
import { layoutTarget } from '../../src/layout/index.js';
import { RegistryClient, registryTarget } from '../../src/registry/index.js';
import { buildLayout, type LayoutSpec } from '../helpers/layout-builder.js';
import { skopeoReadsTag } from '../helpers/layout-tools.js';
import { pushBlob, pushManifest } from '../helpers/push.js';
import { type RunningRegistry, startRegistry } from '../helpers/registry-server.js';
import { pullsCompletely } from '../helpers/skopeo.js';
import { useTempDir } from '../helpers/temp-dir.js';

const REPO = 'shared/app';
const tempDir = useTempDir('both-adapters-');

/** A base image, two builds on it (one shares a layer), a two-platform index, old builds. */
const SPEC: LayoutSpec = {
  images: {
    base: { layers: ['os'], created: '2024-01-01T00:00:00Z' },
    old1: { layers: ['os', 'app-1'], base: 'base', created: '2024-02-01T00:00:00Z' },
    old2: { layers: ['os', 'app-2'], base: 'base', created: '2024-03-01T00:00:00Z' },
    amd: { layers: ['os', 'amd'], platform: { os: 'linux', architecture: 'amd64' } },
    arm: { layers: ['os', 'arm'], platform: { os: 'linux', architecture: 'arm64' } },
    multi: { kind: 'index', children: ['amd', 'arm'] },
    oldMulti: { kind: 'index', children: ['arm'] },
    current: { layers: ['os', 'app-3'], base: 'base', created: '2024-04-01T00:00:00Z' },
  },
  tags: {
    latest: 'current',
    v1: 'old1',
    v2: 'old2',
    multi: 'multi',
    'multi-old': 'oldMulti',
  },
};
const KEEP = ['latest', 'multi'];

interface Side {
  name: 'layout' | 'registry';
  target: CleanupTarget;
  /** The adapter's tag id for a bare tag name. */
  tag(name: string): string;
}

let reg: RunningRegistry;
let sides: Side[];
let layoutDir: string;

/** Pushes every blob, then every manifest (children first) and tag of a layout into REPO. */
async function mirror(dir: string): Promise<void> {
  const blobDir = join(dir, 'blobs', 'sha256');
  const manifests = new Map<string, { bytes: Buffer; mediaType: string; children: string[] }>();
  for (const hex of await readdir(blobDir)) {
    const bytes = await readFile(join(blobDir, hex));
    let parsed: { mediaType?: unknown; manifests?: { digest: string }[]; layers?: unknown };
    try {
      parsed = JSON.parse(bytes.toString('utf8'));
    } catch {
      parsed = {};
    }
    const mediaType = typeof parsed.mediaType === 'string' ? parsed.mediaType : '';
    if (/manifest|index/.test(mediaType) && (parsed.manifests || parsed.layers)) {
      manifests.set(`sha256:${hex}`, {
        bytes,
        mediaType,
        children: (parsed.manifests ?? []).map((m) => m.digest),
      });
    } else {
      await pushBlob(reg, REPO, bytes);
    }
  }
  const pushed = new Set<string>();
  const push = async (digest: string): Promise<void> => {
    if (pushed.has(digest)) return;
    const m = manifests.get(digest);
    if (!m) throw new Error(`mirror: ${digest} is not a manifest of the layout`);
    for (const child of m.children) await push(child);
    await pushManifest(reg, REPO, undefined, new Uint8Array(m.bytes), m.mediaType);
    pushed.add(digest);
  };
  for (const digest of manifests.keys()) await push(digest);
  const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as {
    manifests: { digest: string; mediaType: string; annotations?: Record<string, string> }[];
  };
  for (const entry of index.manifests) {
    const name = entry.annotations?.['org.opencontainers.image.ref.name'];
    const m = manifests.get(entry.digest);
    if (name && m) await pushManifest(reg, REPO, name, new Uint8Array(m.bytes), m.mediaType);
  }
}

const digestOf = (id: string): string => id.slice(id.indexOf('@') + 1);
const bareTag = (tag: string): string => tag.slice(tag.lastIndexOf(':') + 1);

/** The graph with adapter-specific naming taken out: digests, bare tags, edges by digest. */
function shapeOf(graph: ImageGraph) {
  const images = graph.images().map(digestOf).sort();
  const edges: string[] = [];
  for (const id of graph.images()) {
    for (const kind of ['parent', 'child', 'referrer'] as const) {
      for (const to of graph.targetsOf(id, kind))
        edges.push(`${digestOf(id)} ${kind} ${digestOf(to)}`);
    }
  }
  const tags = graph
    .tags()
    .map((t) => `${bareTag(t)} -> ${digestOf(graph.tagTarget(t) ?? '')}`)
    .sort();
  const blobs = graph
    .images()
    .flatMap((id) => graph.blobsOf(id).map((b) => `${digestOf(id)} ${b.role} ${b.id}`))
    .sort();
  return { images, edges: edges.sort(), tags, blobs };
}

/** The plan with adapter-specific naming taken out. */
function planShape(plan: CleanupPlan) {
  return {
    delete: plan.delete.map((op) => ({
      image: digestOf(op.image),
      wave: op.wave,
      tags: op.tags.map(bareTag).sort(),
    })),
    untag: plan.untag.map((op) => bareTag(op.tag)).sort(),
    keptTags: plan.keptTags.map(bareTag).sort(),
    blobs: plan.blobs.map((b) => b.id).sort(),
    reclaimableBytes: plan.reclaimableBytes,
  };
}

beforeAll(async () => {
  reg = await startRegistry();
  layoutDir = join(tempDir(), 'layout');
  await buildLayout(layoutDir, SPEC);
  await mirror(layoutDir);
  sides = [
    { name: 'layout', target: layoutTarget(layoutDir), tag: (t) => t },
    {
      name: 'registry',
      target: registryTarget(new RegistryClient({ url: reg.url }), { repositories: [REPO] }),
      tag: (t) => `${REPO}:${t}`,
    },
  ];
}, 60_000);
afterAll(async () => {
  await reg?.stop();
});

const side = (name: Side['name']): Side => {
  const found = sides.find((s) => s.name === name);
  if (!found) throw new Error(`no side ${name}`);
  return found;
};

describe('both adapters through CleanupTarget, on the same content', () => {
  it('name their kind and describe themselves the way plans record it', () => {
    expect(side('layout').target.kind).toBe('layout');
    expect(side('layout').target.description).toBe(`oci:${layoutDir}`);
    expect(side('registry').target.kind).toBe('registry');
    expect(side('registry').target.description).toBe(reg.url);
  });

  it('load the same graph and report progress that ends done', async () => {
    const shapes = [];
    for (const s of sides) {
      const events: { phase: string; done: number; total: number }[] = [];
      const graph = await s.target.loadGraph({
        dates: true,
        onProgress: (e) => events.push({ phase: e.phase, ...e.manifests }),
      });
      expect(events.at(-1)?.phase, s.name).toBe('done');
      for (const e of events) expect(e.done, `${s.name} ${e.phase}`).toBeLessThanOrEqual(e.total);
      shapes.push(shapeOf(graph));
    }
    const [layout, registry] = shapes;
    expect(layout?.images.length).toBe(8);
    expect(registry).toEqual(layout);
  });

  it('make the same plan for the same keep list', async () => {
    const plans = [];
    for (const s of sides) {
      const graph = await s.target.loadGraph();
      plans.push(planShape(planCleanup(graph, KEEP.map(s.tag))));
    }
    const [layout, registry] = plans;
    expect(layout?.delete.length).toBe(3);
    expect(registry).toEqual(layout);
  });

  it('refuse something that is not a plan with InvalidPlanError, touching nothing', async () => {
    for (const s of sides) {
      const notPlans: unknown[] = [null, {}, { format: 'regprune.plan.v1' }, 'nonsense'];
      for (const bad of notPlans) {
        await expect(
          s.target.applyPlan(bad as CleanupPlan),
          `${s.name} ${JSON.stringify(bad)}`,
        ).rejects.toBeInstanceOf(InvalidPlanError);
        expect(() => s.target.checkPlan(bad), `${s.name} ${JSON.stringify(bad)}`).toThrow(
          InvalidPlanError,
        );
      }
    }
    const left = await side('registry').target.loadGraph();
    expect(left.images()).toHaveLength(8);
  });

  it("refuse the other adapter's plan with PlanMismatchError, touching nothing", async () => {
    const plans = new Map<string, CleanupPlan>();
    for (const s of sides) {
      const graph = await s.target.loadGraph();
      const plan = planCleanup(graph, KEEP.map(s.tag));
      plans.set(s.name, { ...plan, origin: { target: s.target.description, basis: 'keep' } });
      // A plan that records no target is still refused when its ids cannot be this target's.
      plans.set(`${s.name}-bare`, plan);
    }
    for (const [mine, other] of [
      ['layout', 'registry'],
      ['registry', 'layout'],
    ] as const) {
      for (const key of [other, `${other}-bare`]) {
        const plan = plans.get(key) as CleanupPlan;
        await expect(side(mine).target.applyPlan(plan), `${mine} ← ${key}`).rejects.toBeInstanceOf(
          PlanMismatchError,
        );
      }
      expect(() => side(mine).target.checkPlan(plans.get(other)), mine).toThrow(PlanMismatchError);
    }
    for (const s of sides) expect((await s.target.loadGraph()).images(), s.name).toHaveLength(8);
  });

  it('dry-run alike, then apply alike: the same images stay and every kept tag still pulls', async () => {
    const left: string[][] = [];
    for (const s of sides) {
      const plan = planCleanup(await s.target.loadGraph(), KEEP.map(s.tag));
      const dry = await s.target.applyPlan(plan, { dryRun: true });
      const planned = (action: string) =>
        dry.outcomes.filter((o) => o.action === action && o.status === 'planned').length;
      expect(planned('delete'), s.name).toBe(plan.delete.length);
      expect(planned('untag'), s.name).toBe(plan.untag.length);
      expect((await s.target.loadGraph()).images(), s.name).toHaveLength(8);

      const events: { done: number; total: number }[] = [];
      const result = await s.target.applyPlan(plan, {
        onProgress: ({ done, total }) => events.push({ done, total }),
      });
      expect(result.totals.failed, s.name).toBe(0);
      expect(events.length, s.name).toBeGreaterThan(0);
      for (const e of events) expect(e.done, s.name).toBeLessThanOrEqual(e.total);
      const graph = await s.target.loadGraph();
      left.push(graph.images().map(digestOf).sort());
      for (const tag of KEEP) expect(graph.hasTag(s.tag(tag)), `${s.name} ${tag}`).toBe(true);
    }
    expect(left[1]).toEqual(left[0]);
    expect(left[0]).toHaveLength(5);
    for (const tag of KEEP) {
      await skopeoReadsTag(layoutDir, tag);
      await pullsCompletely(reg.host, REPO, tag);
    }
  }, 120_000);
});
