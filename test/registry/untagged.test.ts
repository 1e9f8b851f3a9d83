/**
 * Untagged manifests (superseded `latest` pushes) found through the registry storage and through
 * inventory memory, planned, deleted and garbage-collected on the real docker-registry 2.8, with
 * distribution's own `garbage-collect --delete-untagged` as the oracle.
 */
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type CleanupPlan, type ImageGraph, planCleanup } from '../../src/index.js';
import {
  applyPlan,
  InventoryError,
  loadGraph,
  RegistryClient,
  readInventory,
  readStoredManifests,
  StorageRootError,
  writeInventory,
} from '../../src/registry/index.js';
import {
  manifestStatus,
  type Pushed,
  type PushedImage,
  pushImage,
  pushIndex,
} from '../helpers/push.js';
import { garbageCollect, type RunningRegistry, startRegistry } from '../helpers/registry-server.js';
import { pullsCompletely } from '../helpers/skopeo.js';

const OLD = '2020-01-01T00:00:00Z';
const cleanup: string[] = [];
const running: RunningRegistry[] = [];

afterAll(async () => {
  for (const reg of running) await reg.stop({ keepData: true });
  for (const dir of cleanup) await rm(dir, { recursive: true, force: true });
});

/** A registry whose data and config folders are removed after the file. */
async function start(dataDir?: string): Promise<RunningRegistry> {
  const reg = await startRegistry(dataDir ? { dataDir } : {});
  running.push(reg);
  cleanup.push(dirname(reg.configPath), dirname(reg.dataDir));
  return reg;
}

async function stop(reg: RunningRegistry): Promise<void> {
  await reg.stop({ keepData: true });
  running.splice(running.indexOf(reg), 1);
}

/** Pushes version `n` of the app onto `latest` (the previous version loses its tag). */
function pushVersion(reg: RunningRegistry, repo: string, n: number, created = OLD) {
  return pushImage(reg, repo, { tag: 'latest', salt: `v${n}`, created });
}

/** A tagged two-platform index `multi`; its children are untagged by nature. */
async function pushMulti(reg: RunningRegistry, repo: string) {
  const children = [
    await pushImage(reg, repo, { salt: 'multi-amd64', architecture: 'amd64', created: OLD }),
    await pushImage(reg, repo, { salt: 'multi-arm64', architecture: 'arm64', created: OLD }),
  ];
  const index = await pushIndex(reg, repo, {
    tag: 'multi',
    manifests: [
      { ...children[0], architecture: 'amd64' } as PushedImage,
      { ...children[1], architecture: 'arm64' } as PushedImage,
    ],
  });
  return { index, children };
}

const ids = (repo: string, pushed: Pushed[]) => pushed.map((p) => `${repo}@${p.digest}`).sort();
const deletions = (plan: CleanupPlan) => plan.delete.map((op) => op.image).sort();

/**
 * Manifests `garbage-collect --delete-untagged` reports, as `repo@digest`: it prints each repository
 * name on a line of its own before that repository's marking and deletion lines.
 */
function eligibleManifests(output: string): string[] {
  const found: string[] = [];
  let repo = '';
  for (const line of output.split('\n').map((l) => l.trim())) {
    if (/^[a-z0-9]+(?:[._/-]+[a-z0-9]+)*$/.test(line)) repo = line;
    const m = /^manifest eligible for deletion: (sha256:[0-9a-f]{64})/.exec(line);
    if (m) found.push(`${repo}@${m[1]}`);
  }
  return found.sort();
}

/** Stops the registry, runs the oracle on its storage, starts it again on the same storage. */
async function oracle(reg: RunningRegistry): Promise<{ eligible: string[]; reg: RunningRegistry }> {
  await stop(reg);
  const { output } = await garbageCollect(reg.configPath, { dryRun: true, deleteUntagged: true });
  return { eligible: eligibleManifests(output), reg: await start(reg.dataDir) };
}

/**
 * Checks regprune's deletions against the oracle: theirs minus the children of tagged indexes
 * (a known distribution bug) minus what the grace period keeps. Logs the difference.
 */
function compareWithOracle(
  label: string,
  graph: ImageGraph,
  plan: CleanupPlan,
  eligible: string[],
): void {
  const taggedIndexChildren = new Set(
    graph.tags().flatMap((tag) => graph.targetsOf(graph.tagTarget(tag) as string, 'child')),
  );
  const graceKept = new Set(
    plan.keep.filter((k) => k.note?.startsWith('untagged grace period')).map((k) => k.image),
  );
  const ours = deletions(plan);
  const onlyTheirs = eligible.filter((id) => !ours.includes(id));
  const onlyOurs = ours.filter((id) => !eligible.includes(id));
  console.log(
    [
      `[${label}] garbage-collect --delete-untagged would delete ${eligible.length}: ${eligible.join(', ')}`,
      `[${label}] regprune deletes ${ours.length}: ${ours.join(', ')}`,
      ...onlyTheirs.map(
        (id) =>
          `[${label}]   only theirs: ${id} (${taggedIndexChildren.has(id) ? 'child of a tagged index — deleting it breaks the index' : graceKept.has(id) ? 'kept by the untagged grace period' : 'UNEXPLAINED'})`,
      ),
      ...onlyOurs.map((id) => `[${label}]   only ours: ${id}`),
    ].join('\n'),
  );
  expect(onlyOurs).toEqual([]);
  expect(ours).toEqual(eligible.filter((id) => !taggedIndexChildren.has(id) && !graceKept.has(id)));
}

function blobPath(reg: RunningRegistry, digest: string): string {
  const hex = digest.slice('sha256:'.length);
  return join(reg.dataDir, 'docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex);
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/** Every path under `dir` with size, mode and mtime: equal snapshots mean nothing was written. */
async function treeSnapshot(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    const path = join(entry.parentPath, entry.name);
    const info = await stat(path);
    out.push(`${path} ${info.size} ${info.mode} ${info.mtimeMs}`);
  }
  return out.sort();
}

describe('untagged manifests (real docker-registry 2.8)', () => {
  it('storage reader: superseded latest pushes are deleted, index children kept, blobs freed by GC; oracle agrees', async () => {
    let reg = await start();
    const repo = 'app';
    const versions = [await pushVersion(reg, repo, 1), await pushVersion(reg, repo, 2)];
    const latest = await pushVersion(reg, repo, 3);
    const multi = await pushMulti(reg, repo);

    const before = await treeSnapshot(reg.dataDir);
    const graph = await loadGraph(new RegistryClient({ url: reg.url }), {
      repositories: [repo],
      storage: reg.dataDir,
      dates: true,
    });
    expect(await treeSnapshot(reg.dataDir), 'the storage folder was written to').toEqual(before);
    for (const v of versions) {
      expect(graph.tagsOf(`${repo}@${v.digest}`)).toEqual([]);
      expect(graph.imageInfo(`${repo}@${v.digest}`)?.created).toBe(OLD);
    }

    const plan = planCleanup(graph, [`${repo}:latest`, `${repo}:multi`]);
    expect(deletions(plan)).toEqual(ids(repo, versions));

    const checked = await oracle(reg);
    reg = checked.reg;
    // The distribution bug this project exists for: the oracle would delete the index's children.
    for (const child of ids(repo, multi.children)) expect(checked.eligible).toContain(child);
    compareWithOracle('storage', graph, plan, checked.eligible);

    const client = new RegistryClient({ url: reg.url });
    const result = await applyPlan(client, plan, { graph });
    expect(result.totals).toMatchObject({ done: 2, failed: 0, skipped: 0 });
    for (const v of versions) expect(await manifestStatus(reg, repo, v.digest)).toBe(404);
    for (const kept of [latest, multi.index, ...multi.children])
      expect(await manifestStatus(reg, repo, kept.digest)).toBe(200);
    await pullsCompletely(reg.host, repo, 'latest');
    await pullsCompletely(reg.host, repo, 'multi');

    // A later run sees the deleted revisions no more (their link files are gone).
    const stored = await readStoredManifests(reg.dataDir, { repositories: [repo] });
    expect(stored.repositories.get(repo)).toEqual(
      ids(repo, [latest, multi.index, ...multi.children]).map((id) => id.split('@')[1]),
    );

    // Real garbage collection, without -m, frees every blob only the deleted manifests used.
    const freed = versions.flatMap((v) => [
      v.digest,
      v.config.digest,
      ...v.layers.map((l) => l.digest),
    ]);
    const kept = [latest, ...multi.children].flatMap((v) => [
      v.digest,
      v.config.digest,
      ...v.layers.map((l) => l.digest),
    ]);
    for (const d of [...freed, ...kept]) expect(await exists(blobPath(reg, d)), d).toBe(true);
    await stop(reg);
    await garbageCollect(reg.configPath);
    for (const d of freed) expect(await exists(blobPath(reg, d)), `${d} freed`).toBe(false);
    for (const d of [...kept, multi.index.digest])
      expect(await exists(blobPath(reg, d)), `${d} kept`).toBe(true);
    reg = await start(reg.dataDir);
    await pullsCompletely(reg.host, repo, 'latest');
    await pullsCompletely(reg.host, repo, 'multi');
    const again = await loadGraph(new RegistryClient({ url: reg.url }), {
      repositories: [repo],
      storage: reg.dataDir,
    });
    expect(planCleanup(again, [`${repo}:latest`, `${repo}:multi`]).delete).toEqual([]);
  });

  it('inventory memory: a scheduled job remembers what latest pointed at and deletes it later', async () => {
    let reg = await start();
    const repo = 'app';
    const state = join(dirname(reg.configPath), 'state.json');
    let client = new RegistryClient({ url: reg.url });
    /** One scheduled run: load with the last state, save the new state. */
    const run = async () => {
      const previous = await readInventory(state, { registry: client.host });
      const graph = await loadGraph(client, { repositories: [repo], previous, dates: true });
      await writeInventory(state, graph, { registry: client.host, previous });
      return graph;
    };

    const multi = await pushMulti(reg, repo);
    const v1 = await pushVersion(reg, repo, 1);
    expect(await readInventory(state)).toBeUndefined(); // first run: no state yet
    await run();
    const v2 = await pushVersion(reg, repo, 2);
    expect((await run()).hasImage(`${repo}@${v1.digest}`)).toBe(true);
    const latest = await pushVersion(reg, repo, 3);
    const graph = await run();
    for (const v of [v1, v2]) {
      expect(graph.tagsOf(`${repo}@${v.digest}`)).toEqual([]);
      expect(graph.imageInfo(`${repo}@${v.digest}`)?.created).toBe(OLD);
    }
    // Memory sees exactly what the storage sees; only the pushed times differ (the first run
    // that saw an image, against the storage's revision link times).
    const fromStorage = await loadGraph(client, {
      repositories: [repo],
      storage: reg.dataDir,
      dates: true,
    });
    const withoutPushed = (g: ImageGraph) => {
      const json = g.toJSON();
      for (const image of json.images) {
        expect(image.info?.pushed).toMatch(/^\d{4}-\d{2}-\d{2}T/);
        delete image.info?.pushed;
      }
      return json;
    };
    expect(withoutPushed(graph)).toEqual(withoutPushed(fromStorage));

    const plan = planCleanup(graph, [`${repo}:latest`, `${repo}:multi`]);
    expect(deletions(plan)).toEqual(ids(repo, [v1, v2]));
    const checked = await oracle(reg);
    reg = checked.reg;
    compareWithOracle('inventory', graph, plan, checked.eligible);

    client = new RegistryClient({ url: reg.url });
    const result = await applyPlan(client, plan, { graph });
    expect(result.totals).toMatchObject({ done: 2, failed: 0 });
    for (const kept of [latest, multi.index, ...multi.children])
      expect(await manifestStatus(reg, repo, kept.digest)).toBe(200);
    await pullsCompletely(reg.host, repo, 'latest');
    await pullsCompletely(reg.host, repo, 'multi');

    // The state still names the deleted images; the next run finds them gone and forgets them.
    // (The restarted registry has another port: the state was written for the old one.)
    await expect(readInventory(state, { registry: client.host })).rejects.toThrow(InventoryError);
    await writeFile(
      state,
      JSON.stringify({ ...(await readInventory(state)), registry: client.host }),
    );
    const next = await run();
    expect(next.hasImage(`${repo}@${v1.digest}`)).toBe(false);
    expect(planCleanup(next, [`${repo}:latest`, `${repo}:multi`]).delete).toEqual([]);
    expect((await readInventory(state))?.images).toEqual(
      ids(repo, [latest, multi.index, ...multi.children]),
    );
    await stop(reg);
    await garbageCollect(reg.configPath);
    for (const v of [v1, v2]) expect(await exists(blobPath(reg, v.config.digest))).toBe(false);
    reg = await start(reg.dataDir);
    await pullsCompletely(reg.host, repo, 'latest');
    await pullsCompletely(reg.host, repo, 'multi');
  });

  it('grace period: untagged.keepYoungerThan keeps a young superseded manifest; oracle agrees', async () => {
    let reg = await start();
    const repo = 'app';
    const now = new Date();
    const old = await pushVersion(reg, repo, 1);
    const young = await pushVersion(
      reg,
      repo,
      2,
      new Date(now.getTime() - 3_600_000).toISOString(),
    );
    await pushVersion(reg, repo, 3);
    const multi = await pushMulti(reg, repo);
    const graph = await loadGraph(new RegistryClient({ url: reg.url }), {
      repositories: [repo],
      storage: reg.dataDir,
      dates: true,
    });
    const policy = {
      rules: [{ keepTags: ['latest', 'multi'] }],
      untagged: { keepYoungerThan: '7d' },
    };
    const plan = planCleanup(graph, policy, { now });
    expect(deletions(plan)).toEqual(ids(repo, [old]));
    expect(plan.keep.find((k) => k.image === `${repo}@${young.digest}`)?.note).toMatch(
      /untagged grace period/,
    );
    // Without created dates the storage's pushed times decide (with a warning per image): every
    // manifest was pushed moments ago, so the grace period keeps them all.
    const undated = await loadGraph(new RegistryClient({ url: reg.url }), {
      repositories: [repo],
      storage: reg.dataDir,
    });
    const blind = planCleanup(undated, policy, { now: Date.now() + 1000 });
    expect(deletions(blind)).toEqual([]);
    expect(blind.warnings.map((w) => `${w.code} ${w.id}`)).toEqual(
      ids(repo, [old, young]).map((id) => `AGE_SOURCE_FALLBACK ${id}`),
    );
    const checked = await oracle(reg);
    reg = checked.reg;
    expect(checked.eligible).toEqual(ids(repo, [old, young, ...multi.children]));
    compareWithOracle('grace', graph, plan, checked.eligible);
  });

  it('storage reader: nested repository names, the v2 folder itself, deleted revisions, only the loaded repositories', async () => {
    const reg = await start();
    const client = new RegistryClient({ url: reg.url });
    const deep = 'team/sub/app';
    const deepOld = await pushVersion(reg, deep, 1);
    const deepNew = await pushVersion(reg, deep, 2);
    const topOld = await pushVersion(reg, 'team', 1);
    const topNew = await pushVersion(reg, 'team', 2);

    const all = await readStoredManifests(reg.dataDir);
    expect([...all.repositories.keys()]).toEqual(['team', deep]);
    expect(all.repositories.get(deep)).toEqual([deepOld.digest, deepNew.digest].sort());
    expect(all.repositories.get('team')).toEqual([topOld.digest, topNew.digest].sort());
    const v2 = join(reg.dataDir, 'docker/registry/v2');
    expect((await readStoredManifests(v2)).repositories).toEqual(all.repositories);
    expect(all.v2).toBe(v2);

    const graph = await loadGraph(client, { repositories: [deep], storage: v2 });
    expect(graph.images()).toEqual(ids(deep, [deepOld, deepNew]));
    expect(graph.tagsOf(`${deep}@${deepOld.digest}`)).toEqual([]);
    const both = await loadGraph(client, {
      repositories: ['team/**', 'team'],
      storage: reg.dataDir,
    });
    expect(both.images()).toEqual(
      [...ids('team', [topOld, topNew]), ...ids(deep, [deepOld, deepNew])].sort(),
    );

    // A manifest deleted through the API loses its revision link (the folder stays): not listed.
    await client.deleteManifest(deep, deepOld.digest);
    const revision = join(
      v2,
      'repositories',
      deep,
      '_manifests/revisions/sha256',
      deepOld.digest.slice(7),
    );
    expect(await readdir(revision)).toEqual([]);
    expect((await readStoredManifests(reg.dataDir)).repositories.get(deep)).toEqual([
      deepNew.digest,
    ]);
    expect((await loadGraph(client, { repositories: [deep], storage: v2 })).images()).toEqual(
      ids(deep, [deepNew]),
    );
  });

  it('storage reader: refuses folders that are not a registry storage, or another registry’s', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'regprune-notroot-'));
    cleanup.push(dir);
    const error = await readStoredManifests(dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StorageRootError);
    expect((error as StorageRootError).dir).toBe(dir);
    expect((error as Error).message).toContain(dir);
    expect((error as Error).message).toMatch(/docker\/registry\/v2/);
    await expect(readStoredManifests(join(dir, 'missing'))).rejects.toThrow(/does not exist/);
    await writeFile(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    await expect(readStoredManifests(dir)).rejects.toThrow(/OCI image layout/);

    // A storage of another registry: same repository, none of the tagged manifests.
    const reg = await start();
    const pushed = await pushVersion(reg, 'team/sub/app', 1);
    const other = join(dir, 'other');
    const hex = 'a'.repeat(64);
    const rev = join(
      other,
      'docker/registry/v2/repositories/team/sub/app/_manifests/revisions/sha256',
      hex,
    );
    await mkdir(rev, { recursive: true });
    await writeFile(join(rev, 'link'), `sha256:${hex}`);
    const client = new RegistryClient({ url: reg.url });
    await expect(
      loadGraph(client, { repositories: ['team/sub/app'], storage: other }),
    ).rejects.toThrow(new RegExp(`holds none of the 1 manifests.*${pushed.digest}`));
    await expect(
      loadGraph(client, { repositories: ['team/sub/app'], storage: dir }),
    ).rejects.toBeInstanceOf(StorageRootError);
  });

  it('inventory files: atomic JSON, graph snapshots accepted, damage refused', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'regprune-inventory-'));
    cleanup.push(dir);
    const file = join(dir, 'state.json');
    const reg = await start();
    const img = await pushVersion(reg, 'app', 1);
    const client = new RegistryClient({ url: reg.url });
    const graph = await loadGraph(client, { repositories: ['app'] });
    const written = await writeInventory(file, graph, {
      registry: client.host,
      now: new Date(0),
      previous: { format: 'regprune.inventory.v1', images: [`gone@${img.digest}`] },
    });
    expect(written.images).toEqual([`app@${img.digest}`, `gone@${img.digest}`]);
    expect(await readInventory(file)).toEqual(written);
    expect(await readdir(dir)).toEqual(['state.json']); // no temporary file left behind
    await writeFile(file, JSON.stringify(graph.toJSON()));
    expect((await readInventory(file))?.images).toEqual([`app@${img.digest}`]);
    await writeFile(file, '{"format":"regprune.inventory.v1","images":["A"]}');
    await expect(readInventory(file)).rejects.toThrow(/images\[0\] is "A"/);
    await writeFile(file, '{not json');
    await expect(readInventory(file)).rejects.toBeInstanceOf(InventoryError);
    await expect(writeInventory(join(dir, 'no/such/dir/s.json'), graph)).rejects.toThrow(
      InventoryError,
    );
  });
});
