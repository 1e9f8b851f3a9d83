import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  type CleanupPlan,
  PlanRefusedError as CorePlanRefusedError,
  ImageGraph,
  NOT_ATTEMPTED_STOPPED,
  PlanMismatchError,
  planCleanup,
} from '../../src/index.js';
import {
  applyLayoutPlan,
  InvalidPlanError,
  layoutImageId,
  layoutTarget,
  loadLayoutGraph,
  PlanRefusedError,
} from '../../src/layout/index.js';
import { PlanRefusedError as RegistryPlanRefusedError } from '../../src/registry/index.js';
import {
  type BuiltLayout,
  buildLayout,
  type Descriptor,
  type LayoutSpec,
  listBlobs,
  REF_NAME,
  reachableBlobs,
  readIndexJson,
  refNames,
  SBOM_TYPE,
  SIGNATURE_TYPE,
  snapshot,
  writeBlob,
  writeIndexJson,
} from '../helpers/layout-builder.js';
import { skopeo, skopeoReadsTag, umoci, umociGc } from '../helpers/layout-tools.js';
import { useTempDir } from '../helpers/temp-dir.js';

const work = useTempDir('regprune-layout-apply-');

let counter = 0;
async function build(spec: LayoutSpec): Promise<BuiltLayout> {
  return buildLayout(join(work(), `l${counter++}`), spec);
}

const id = (b: BuiltLayout, name: string) => layoutImageId((b.desc[name] as Descriptor).digest);

/** Plans with the layout's own graph and applies for real. */
async function prune(dir: string, keep: string[]) {
  const plan = planCleanup(await loadLayoutGraph(dir), keep);
  const result = await applyLayoutPlan(dir, plan);
  return { plan, result };
}

/** Blob files that the named images own (their manifests, configs and layers). */
function ownFiles(b: BuiltLayout, names: string[]): string[] {
  return [...new Set(names.flatMap((n) => b.own[n] as string[]))].sort();
}

/**
 * The independent checks after a prune: index.json names exactly `tags`; every blob left is
 * reachable from index.json the way `umoci gc` walks it and every reachable blob is there; `umoci
 * gc` then removes nothing; skopeo reads every tag in `readable` completely and fails on `gone`.
 */
async function verifyLayout(
  dir: string,
  tags: string[],
  readable: string[],
  gone: string[],
): Promise<string[]> {
  expect(await refNames(dir)).toEqual([...tags].sort());
  const blobs = await listBlobs(dir);
  expect(blobs).toEqual([...(await reachableBlobs(dir))].sort());
  await umociGc(dir);
  expect(await listBlobs(dir)).toEqual(blobs);
  for (const tag of readable) await skopeoReadsTag(dir, tag);
  for (const tag of gone) await expect(skopeoReadsTag(dir, tag), tag).rejects.toThrow();
  // No temporary file of the atomic index.json rewrite is left behind.
  expect((await readdir(dir)).sort()).toEqual(['blobs', 'index.json', 'oci-layout']);
  return blobs;
}

/** The original problem's chain A <- B <- C <- D (or D on B); A and B untagged entries. */
function chain(dOnB: boolean): LayoutSpec {
  return {
    images: {
      A: { layers: ['a'], created: '2020-01-01T00:00:00Z' },
      B: { layers: ['a', 'b'], base: 'A' },
      C: { layers: ['a', 'b', 'c'], base: 'B' },
      D: { layers: ['a', 'b', 'd'], base: dOnB ? 'B' : 'C' },
    },
    tags: { version1: 'C', version2: 'D', latest: 'D' },
    untagged: ['A', 'B'],
  };
}

describe('applyLayoutPlan: the original scenarios on a layout', () => {
  it('scenario 1: version1 is untagged, C stays (as D’s parent) with an untagged index.json entry', async () => {
    const b = await build(chain(false));
    const before = await listBlobs(b.dir);
    const { plan, result } = await prune(b.dir, ['version2', 'latest']);
    expect(plan.untag).toEqual([{ tag: 'version1', image: id(b, 'C') }]);
    expect(plan.delete).toEqual([]);
    expect(result.totals).toEqual({ done: 2, skipped: 0, failed: 0, planned: 0 });
    expect(result.outcomes.map((o) => [o.action, o.id, o.status])).toEqual([
      ['untag', 'version1', 'done'],
      ['rewrite', 'index.json', 'done'],
    ]);
    const index = await readIndexJson(b.dir);
    const cEntries = index.manifests.filter((m) => m.digest === b.desc.C?.digest);
    expect(cEntries).toEqual([{ ...b.desc.C }]); // kept, without its ref name
    const after = await verifyLayout(
      b.dir,
      ['latest', 'version2'],
      ['latest', 'version2'],
      ['version1'],
    );
    expect(after).toEqual(before); // nothing deleted
    const again = await loadLayoutGraph(b.dir);
    expect(again.images()).toEqual(['A', 'B', 'C', 'D'].map((n) => id(b, n)).sort());
    expect(planCleanup(again, ['version2', 'latest']).untag).toEqual([]);
  });

  it('scenario 2: C is deleted with version1; A, B, D and the layers they share with C stay', async () => {
    const b = await build(chain(true));
    const { plan, result } = await prune(b.dir, ['version2', 'latest']);
    expect(plan.delete.map((d) => [d.image, d.tags])).toEqual([[id(b, 'C'), ['version1']]]);
    const after = await verifyLayout(
      b.dir,
      ['latest', 'version2'],
      ['latest', 'version2'],
      ['version1'],
    );
    expect(after).toEqual(ownFiles(b, ['A', 'B', 'D']));
    // C's manifest, config and its own layer went; the layers it shared did not.
    const removed = result.outcomes.filter((o) => o.action === 'delete-blob').map((o) => o.id);
    expect(removed.sort()).toEqual((b.own.C as string[]).filter((d) => !after.includes(d)).sort());
    expect(removed).toHaveLength(3);
    expect(result.reclaimableBytes).toBeGreaterThan(0);
    const again = await loadLayoutGraph(b.dir);
    expect(again.images()).toEqual(['A', 'B', 'D'].map((n) => id(b, n)).sort());
  });
});

describe('applyLayoutPlan: multi-arch, referrers, shared blobs', () => {
  const MULTI: LayoutSpec = {
    images: {
      amd: { layers: ['os', 'amd'], platform: { os: 'linux', architecture: 'amd64' } },
      arm: { layers: ['os', 'arm-1'], platform: { os: 'linux', architecture: 'arm64' } },
      arm2: { layers: ['os', 'arm-2'], platform: { os: 'linux', architecture: 'arm64' } },
      v1: { kind: 'index', children: ['amd', 'arm'] },
      v2: { kind: 'index', children: ['amd', 'arm2'] },
    },
    tags: { v1: 'v1', v2: 'v2' },
  };

  it('a deleted index takes its own platform manifests; a child it shares with a kept index stays', async () => {
    const b = await build(MULTI);
    const { plan } = await prune(b.dir, ['v2']);
    expect(plan.delete.map((d) => d.image).sort()).toEqual([id(b, 'arm'), id(b, 'v1')].sort());
    const after = await verifyLayout(b.dir, ['v2'], ['v2'], ['v1']);
    expect(after).toEqual(ownFiles(b, ['v2', 'amd', 'arm2']));
  });

  it('keeping the index keeps every platform manifest', async () => {
    const b = await build(MULTI);
    await prune(b.dir, ['v1']);
    const after = await verifyLayout(b.dir, ['v1'], ['v1'], ['v2']);
    expect(after).toEqual(ownFiles(b, ['v1', 'amd', 'arm']));
  });

  it('referrers follow their subject: an SBOM and its signature go with the image, others stay', async () => {
    const b = await build({
      images: {
        app1: { layers: ['os', 'app1'] },
        app2: { layers: ['os', 'app2'] },
        sbom1: { subject: 'app1', artifactType: SBOM_TYPE },
        sig1: { subject: 'sbom1', artifactType: SIGNATURE_TYPE },
        sig2: { subject: 'app2', artifactType: SIGNATURE_TYPE },
      },
      tags: { v1: 'app1', v2: 'app2' },
      untagged: ['sbom1', 'sig1', 'sig2'],
    });
    const { plan } = await prune(b.dir, ['v2']);
    expect(plan.delete.map((d) => d.image)).toEqual([id(b, 'sig1'), id(b, 'sbom1'), id(b, 'app1')]);
    const after = await verifyLayout(b.dir, ['v2'], ['v2'], ['v1']);
    // The empty config `{}` all referrers share stays for sig2.
    expect(after).toEqual(ownFiles(b, ['app2', 'sig2']));
    const g = await loadLayoutGraph(b.dir);
    expect(g.sourcesOf(id(b, 'app2'), 'referrer')).toEqual([id(b, 'sig2')]);
  });

  it('a kept tag on an SBOM keeps its subject, which gets an index.json entry when nothing else roots it', async () => {
    const b = await build({
      images: {
        amd: { layers: ['os', 'amd'], platform: { os: 'linux', architecture: 'amd64' } },
        arm: { layers: ['os', 'arm'], platform: { os: 'linux', architecture: 'arm64' } },
        multi: { kind: 'index', children: ['amd', 'arm'] },
        sbom: { subject: 'amd', artifactType: SBOM_TYPE },
      },
      tags: { v1: 'multi', 'v1-sbom': 'sbom' },
    });
    const { result } = await prune(b.dir, ['v1-sbom']);
    expect(result.outcomes.find((o) => o.action === 'rewrite')?.reason).toMatch(
      /1 entry removed, 0 ref names removed, 1 untagged entry added/,
    );
    const index = await readIndexJson(b.dir);
    expect(index.manifests.map((m) => m.digest).sort()).toEqual(
      [b.desc.amd?.digest, b.desc.sbom?.digest].sort(),
    );
    // umoci gc does not follow `subject`: without the new entry it would delete amd.
    const after = await verifyLayout(b.dir, ['v1-sbom'], ['v1-sbom'], ['v1']);
    expect(after).toEqual(ownFiles(b, ['amd', 'sbom']));
  });

  it('blobs shared between a deleted and a kept image stay; garbage from before the plan goes', async () => {
    const b = await build({
      images: {
        x: { layers: ['shared', 'x-only'] },
        y: { layers: ['shared', 'y-only'] },
      },
      tags: { x: 'x', y: 'y' },
    });
    const stray = await writeBlob(b.dir, 'left over by an interrupted copy');
    const { result } = await prune(b.dir, ['x']);
    const after = await verifyLayout(b.dir, ['x'], ['x'], ['y']);
    expect(after).toEqual(ownFiles(b, ['x']));
    const strayOutcome = result.outcomes.find((o) => o.id === stray.digest);
    expect(strayOutcome?.status).toBe('done');
    expect(strayOutcome?.reason).toMatch(
      /no image of index.json needed it before this plan either/,
    );
  });
});

describe('applyLayoutPlan: dry run, refused and mismatched plans, stale plans', () => {
  it('a dry run changes no byte and reports what the real run then does', async () => {
    const b = await build(chain(true));
    const before = await snapshot(b.dir);
    const plan = planCleanup(await loadLayoutGraph(b.dir), ['latest']);
    const dry = await applyLayoutPlan(b.dir, plan, { dryRun: true });
    expect(await snapshot(b.dir)).toEqual(before);
    expect(dry.dryRun).toBe(true);
    expect(dry.totals.done).toBe(0);
    expect(dry.outcomes.every((o) => o.status === 'planned')).toBe(true);
    expect(dry.notes[0]).toMatch(/^would remove 3 blobs/);

    const real = await applyLayoutPlan(b.dir, plan);
    expect(real.outcomes.map((o) => [o.action, o.id])).toEqual(
      dry.outcomes.map((o) => [o.action, o.id]),
    );
    expect(real.outcomes.every((o) => o.status === 'done')).toBe(true);
    expect(real.reclaimableBytes).toBe(dry.reclaimableBytes);
    expect(await snapshot(b.dir)).not.toEqual(before);
  });

  it('a refused plan throws PlanRefusedError (one class shared by both adapters) and changes nothing', async () => {
    expect(PlanRefusedError).toBe(CorePlanRefusedError);
    expect(RegistryPlanRefusedError).toBe(CorePlanRefusedError);
    const b = await build(chain(true));
    const before = await snapshot(b.dir);
    const plan: CleanupPlan = {
      ...planCleanup(await loadLayoutGraph(b.dir), ['latest']),
      refused: { reason: 'maxDeletions 0 exceeded' },
    };
    const error = await applyLayoutPlan(b.dir, plan).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PlanRefusedError);
    expect((error as PlanRefusedError).code).toBe('PLAN_REFUSED');
    expect((error as Error).message).toMatch(
      /^the plan was refused by a safety cap: maxDeletions 0 exceeded; nothing was applied/,
    );
    await expect(applyLayoutPlan(b.dir, plan, { dryRun: true })).rejects.toThrow(PlanRefusedError);
    expect(await snapshot(b.dir)).toEqual(before);
  });

  it('a plan of another target or another layout, or no plan at all, is refused; nothing changes', async () => {
    const b = await build(chain(true));
    const other = await build({ images: { z: { layers: ['z'] } }, tags: { z: 'z' } });
    const before = await snapshot(b.dir);

    const g = new ImageGraph().addImage('A').addImage('B').setTag('latest', 'B');
    const foreign = planCleanup(g, ['latest']);
    const e1 = await applyLayoutPlan(b.dir, foreign).catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(PlanMismatchError);
    expect((e1 as Error).message).toMatch(/is not an image id of an OCI layout/);

    const otherPlan = planCleanup(await loadLayoutGraph(other.dir), ['z']);
    const e2 = await applyLayoutPlan(b.dir, otherPlan).catch((e: unknown) => e);
    expect(e2).toBeInstanceOf(PlanMismatchError);
    expect((e2 as PlanMismatchError).id).toBe(id(other, 'z'));
    expect((e2 as Error).message).toMatch(
      /the plan keeps it, but no entry of .*index.json reaches it/,
    );

    await expect(
      applyLayoutPlan(b.dir, { format: 'something-else' } as unknown as CleanupPlan),
    ).rejects.toThrow(InvalidPlanError);
    expect(await snapshot(b.dir)).toEqual(before);
  });

  it('a tag added since the plan saves the planned image (and its parent chain); the rest proceeds', async () => {
    const b = await build({
      images: {
        base: { layers: ['os'] },
        old: { layers: ['os', 'old'], base: 'base' },
        older: { layers: ['os', 'older'] },
        keep: { layers: ['os', 'keep'] },
      },
      tags: { keep: 'keep', old: 'old', older: 'older' },
      untagged: ['base'],
    });
    const plan = planCleanup(await loadLayoutGraph(b.dir), ['keep']);
    expect(plan.delete.map((d) => d.image).sort()).toEqual(
      [id(b, 'base'), id(b, 'old'), id(b, 'older')].sort(),
    );
    // Meanwhile someone tags `old` again under a new name.
    const index = await readIndexJson(b.dir);
    index.manifests.push({ ...(b.desc.old as Descriptor), annotations: { [REF_NAME]: 'hotfix' } });
    await writeIndexJson(b.dir, index);

    const result = await applyLayoutPlan(b.dir, plan);
    const status = (image: string) => result.outcomes.find((o) => o.id === image);
    expect(status(id(b, 'old'))?.status).toBe('skipped');
    expect(status(id(b, 'old'))?.reason).toMatch(/^changed since plan: hotfix/);
    expect(status(id(b, 'base'))?.status).toBe('skipped');
    expect(status(id(b, 'older'))?.status).toBe('done');
    expect(result.notes.join('\n')).toMatch(/skipped because the layout changed since the plan/);
    // The plan removes the tag `old` only together with its image, which stays: so does the tag.
    const after = await verifyLayout(
      b.dir,
      ['hotfix', 'keep', 'old'],
      ['hotfix', 'keep'],
      ['older'],
    );
    expect(after).toEqual(ownFiles(b, ['base', 'old', 'keep']));
  });

  it('layoutTarget wraps load and apply; applying the same plan twice is harmless', async () => {
    const b = await build(chain(true));
    const target = layoutTarget(b.dir);
    expect(target.description).toBe(`oci:${b.dir}`);
    const plan = planCleanup(await target.loadGraph(), ['latest', 'version2']);
    await target.applyPlan(plan);
    const once = await snapshot(b.dir);
    const twice = await target.applyPlan(plan);
    expect(await snapshot(b.dir)).toEqual(once);
    expect(twice.outcomes.map((o) => [o.id, o.status, o.reason])).toEqual([
      [id(b, 'C'), 'skipped', 'already gone'],
    ]);
  });
});

describe('applyLayoutPlan on layouts umoci and skopeo wrote', () => {
  it('umoci: deleting the base tag keeps the layers the derived image shares', async () => {
    const dir = join(work(), 'umoci');
    await umoci('init', '--layout', dir);
    await umoci('new', '--image', `${dir}:base`);
    // A real layer, so that `derived` shares something with `base` worth protecting.
    const bundle = join(work(), 'bundle');
    await umoci('unpack', '--rootless', '--image', `${dir}:base`, bundle);
    await writeFile(join(bundle, 'rootfs', 'hello.txt'), 'hello');
    await umoci('repack', '--image', `${dir}:base`, bundle);
    await umoci('config', '--image', `${dir}:base`, '--tag', 'derived', '--config.label', 'a=b');
    await umoci('config', '--image', `${dir}:base`, '--tag', 'other', '--config.label', 'c=d');
    const g = await loadLayoutGraph(dir);
    const derived = g.tagTarget('derived') as string;
    const layers = g.blobsOf(derived).filter((x) => x.role === 'layer');
    expect(layers.length).toBeGreaterThan(0);

    const { plan } = await prune(dir, ['derived']);
    expect(plan.delete).toHaveLength(2);
    const after = await verifyLayout(dir, ['derived'], ['derived'], ['base', 'other']);
    for (const layer of layers) expect(after).toContain(layer.id);
    expect(after).toContain(derived.slice(1));
  });

  it('skopeo: two multi-arch tags copied with skopeo; pruning one leaves the other complete', async () => {
    const src = await build({
      images: {
        amd: { layers: ['os', 'amd'], platform: { os: 'linux', architecture: 'amd64' } },
        arm: { layers: ['os', 'arm'], platform: { os: 'linux', architecture: 'arm64' } },
        amd2: { layers: ['os', 'amd2'], platform: { os: 'linux', architecture: 'amd64' } },
        one: { kind: 'index', children: ['amd', 'arm'] },
        two: { kind: 'index', children: ['amd2', 'arm'] },
      },
      tags: { one: 'one', two: 'two' },
    });
    const dir = join(work(), 'skopeo');
    for (const tag of ['one', 'two']) {
      await skopeo('copy', '--all', '--quiet', `oci:${src.dir}:${tag}`, `oci:${dir}:${tag}`);
    }
    const blobsBefore = await listBlobs(dir);
    const { plan } = await prune(dir, ['two']);
    // `one`'s index and its amd64 manifest go; the arm64 manifest both share stays.
    expect(plan.delete).toHaveLength(2);
    const after = await verifyLayout(dir, ['two'], ['two'], ['one']);
    expect(after.length).toBeLessThan(blobsBefore.length);
    expect(after.every((d) => blobsBefore.includes(d))).toBe(true);
    const g = await loadLayoutGraph(dir);
    expect(g.targetsOf(g.tagTarget('two') as string, 'child')).toHaveLength(2);
  });
});

describe('applyLayoutPlan with stop (ApplyOptions.stop)', () => {
  it('stopped before the start: nothing changes, every planned operation is "not attempted: stopped"; the same plan again finishes', async () => {
    const b = await build(chain(true));
    const before = await snapshot(b.dir);
    const plan = planCleanup(await loadLayoutGraph(b.dir), ['version2', 'latest']);
    const stop = new AbortController();
    stop.abort();
    const result = await applyLayoutPlan(b.dir, plan, { stop: stop.signal });
    expect(result.stopped).toBe(true);
    expect(result.outcomes.length).toBeGreaterThan(0);
    for (const o of result.outcomes)
      expect(o).toMatchObject({ status: 'skipped', reason: NOT_ATTEMPTED_STOPPED });
    expect(await snapshot(b.dir)).toEqual(before);
    const again = await applyLayoutPlan(b.dir, plan);
    expect(again.stopped).toBeUndefined();
    expect(again.totals.failed + again.totals.skipped).toBe(0);
  });
});
