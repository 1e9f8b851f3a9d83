/**
 * `age: pushed` on the real docker-registry 2.8: pushed times from the storage folder (the revision
 * link's modification time) and from the state file (the first run that saw an image).
 */
import { utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageGraph, planCleanup } from '../../src/index.js';
import {
  InventoryError,
  inventoryOf,
  loadGraph,
  RegistryClient,
  readInventory,
  readStoredManifests,
  writeInventory,
} from '../../src/registry/index.js';
import { type Pushed, pushImage } from '../helpers/push.js';
import { type RunningRegistry, startRegistry } from '../helpers/registry-server.js';
import { useTempDir } from '../helpers/temp-dir.js';

const DAY = 24 * 3600 * 1000;
const NOW = Date.parse('2024-06-30T00:00:00Z');
/** Every image claims a fresh build date, so only the pushed time can tell them apart. */
const CREATED = '2024-06-29T00:00:00Z';
const POLICY = { age: 'pushed' as const, rules: [{ keepYoungerThan: '7d' }] };

let reg: RunningRegistry;
const work = useTempDir('regprune-pushed-age-');
beforeAll(async () => {
  reg = await startRegistry();
});
afterAll(async () => {
  await reg?.stop();
});

function revisionLink(repo: string, digest: string): string {
  const hex = digest.replace('sha256:', '');
  return join(
    reg.dataDir,
    'docker/registry/v2/repositories',
    repo,
    '_manifests/revisions/sha256',
    hex,
    'link',
  );
}

async function setPushed(repo: string, image: Pushed, ms: number): Promise<void> {
  const when = new Date(ms);
  await utimes(revisionLink(repo, image.digest), when, when);
}

describe('pushed times from the registry storage (--storage)', () => {
  it('the revision link time is the pushed time; keepYoungerThan measures from it', async () => {
    const repo = 'storage/app';
    const old = await pushImage(reg, repo, { tag: 'old', salt: 'old', created: CREATED });
    const recent = await pushImage(reg, repo, { tag: 'recent', salt: 'recent', created: CREATED });
    await setPushed(repo, old, NOW - 40 * DAY);
    await setPushed(repo, recent, NOW - 2 * DAY);

    const stored = await readStoredManifests(reg.dataDir, { repositories: [repo] });
    expect(stored.pushed.get(`${repo}@${old.digest}`)).toBe(new Date(NOW - 40 * DAY).toISOString());

    const client = new RegistryClient({ url: reg.url });
    const graph = await loadGraph(client, {
      repositories: [repo],
      storage: reg.dataDir,
      dates: true,
    });
    expect(graph.imageInfo(`${repo}@${old.digest}`)).toMatchObject({
      created: CREATED,
      pushed: new Date(NOW - 40 * DAY).toISOString(),
    });
    const plan = planCleanup(graph, POLICY, { now: NOW });
    expect(plan.delete.map((op) => op.image)).toEqual([`${repo}@${old.digest}`]);
    expect(plan.tagDecisions?.find((d) => d.tag === `${repo}:recent`)).toMatchObject({
      kept: true,
      ageSource: 'pushed',
      reason: `rule 1 keepYoungerThan 7d (pushed ${new Date(NOW - 2 * DAY).toISOString()})`,
    });
    expect(plan.warnings).toEqual([]);
    // By created both are a day old: the default age source keeps both.
    expect(planCleanup(graph, { rules: POLICY.rules }, { now: NOW }).delete).toEqual([]);
  });
});

describe('pushed times from the state file (--state)', () => {
  it('the first run records when it saw each image; the second run measures from it', async () => {
    const repo = 'state/app';
    const file = join(work(), 'state.json');
    const client = new RegistryClient({ url: reg.url });
    const first = await pushImage(reg, repo, { tag: 'first', salt: 'first', created: CREATED });

    // Run 1, 30 days before NOW: no state yet, so no pushed times; created decides, with a warning.
    const run1 = new Date(NOW - 30 * DAY);
    const none = await readInventory(file, { registry: client.host });
    expect(none).toBeUndefined();
    const graph1 = await loadGraph(client, { repositories: [repo], dates: true });
    const plan1 = planCleanup(graph1, POLICY, { now: run1 });
    expect(plan1.delete).toEqual([]);
    expect(plan1.warnings.map((w) => w.code)).toEqual(['AGE_SOURCE_UNAVAILABLE']);
    const saved = await writeInventory(file, graph1, { registry: client.host, now: run1 });
    expect(saved.firstSeen).toEqual({ [`${repo}@${first.digest}`]: run1.toISOString() });

    const second = await pushImage(reg, repo, { tag: 'second', salt: 'second', created: CREATED });

    // Run 2 at NOW: `first` was seen 30 days ago, `second` is new.
    const previous = await readInventory(file, { registry: client.host });
    const graph2 = await loadGraph(client, {
      repositories: [repo],
      dates: true,
      ...(previous ? { previous } : {}),
      seenAt: new Date(NOW),
    });
    expect(graph2.imageInfo(`${repo}@${first.digest}`)?.pushed).toBe(run1.toISOString());
    expect(graph2.imageInfo(`${repo}@${second.digest}`)?.pushed).toBe(new Date(NOW).toISOString());
    const plan2 = planCleanup(graph2, POLICY, { now: NOW });
    expect(plan2.delete.map((op) => op.image)).toEqual([`${repo}@${first.digest}`]);
    expect(plan2.warnings).toEqual([]);
    const saved2 = await writeInventory(file, graph2, {
      registry: client.host,
      now: new Date(NOW),
      ...(previous ? { previous } : {}),
    });
    // The first sighting is kept, never moved to a later run.
    expect(saved2.firstSeen).toEqual({
      [`${repo}@${first.digest}`]: run1.toISOString(),
      [`${repo}@${second.digest}`]: new Date(NOW).toISOString(),
    });
  });

  it('a storage time wins over the state file (it is when the registry received the image)', async () => {
    const repo = 'both/app';
    const image = await pushImage(reg, repo, { tag: 't', salt: 'both', created: CREATED });
    await setPushed(repo, image, NOW - 3 * DAY);
    const client = new RegistryClient({ url: reg.url });
    const graph = await loadGraph(client, {
      repositories: [repo],
      storage: reg.dataDir,
      previous: {
        format: 'regprune.inventory.v1',
        images: [`${repo}@${image.digest}`],
        firstSeen: { [`${repo}@${image.digest}`]: new Date(NOW - DAY).toISOString() },
      },
    });
    expect(graph.imageInfo(`${repo}@${image.digest}`)?.pushed).toBe(
      new Date(NOW - 3 * DAY).toISOString(),
    );
  });
});

describe("the state file's firstSeen", () => {
  const id = `app@sha256:${'a'.repeat(64)}`;
  it('a file from before firstSeen existed counts its images as seen at its savedAt', async () => {
    const file = join(work(), 'old-state.json');
    await writeFile(
      file,
      JSON.stringify({
        format: 'regprune.inventory.v1',
        savedAt: '2024-05-01T00:00:00.000Z',
        images: [id],
      }),
    );
    const previous = await readInventory(file);
    expect(previous?.firstSeen).toBeUndefined();
    const graph = new ImageGraph().addImage(id);
    const next = inventoryOf(graph, { previous, now: new Date(NOW) });
    expect(next.firstSeen).toEqual({ [id]: '2024-05-01T00:00:00.000Z' });
  });

  it('a firstSeen time that is no time is refused, naming the entry and what to do', async () => {
    const file = join(work(), 'bad-state.json');
    await writeFile(
      file,
      JSON.stringify({
        format: 'regprune.inventory.v1',
        images: [id],
        firstSeen: { [id]: 'soon' },
      }),
    );
    await expect(readInventory(file)).rejects.toThrow(InventoryError);
    await expect(readInventory(file)).rejects.toThrow(
      /firstSeen\[".*"\] is "soon", not an ISO 8601 time; delete the entry/,
    );
  });
});
