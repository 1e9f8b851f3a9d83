/**
 * `verifyRegistry` and `regprune verify` against Debian's real docker-registry, with content broken
 * behind regprune's back the way a careless cleanup breaks it: an index's child deleted by digest,
 * a layer blob deleted, a signed image deleted under its signature, a tag left pointing at nothing.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegistryClient } from '../../src/registry/client.js';
import { verifyRegistry } from '../../src/registry/verify.js';
import { runCliProcess } from '../helpers/cli.js';
import { type Pushed, pushCosign, pushImage, pushIndex, pushReferrer } from '../helpers/push.js';
import { type RunningRegistry, startRegistry } from '../helpers/registry-server.js';

let reg: RunningRegistry;
let client: RegistryClient;

async function del(path: string): Promise<void> {
  const response = await fetch(`${reg.url}/v2/${path}`, { method: 'DELETE' });
  await response.arrayBuffer();
  expect(response.status, `DELETE ${path}`).toBe(202);
}

/** `repo`: an index (latest) over two platforms with an SBOM referrer, and a signed image (v1). */
async function pushHealthy(repo: string) {
  const amd64 = await pushImage(reg, repo, { salt: 'amd64', architecture: 'amd64' });
  const arm64 = await pushImage(reg, repo, { salt: 'arm64', architecture: 'arm64' });
  const index = await pushIndex(reg, repo, { tag: 'latest', manifests: [amd64, arm64] });
  const sbom = await pushReferrer(reg, repo, index, {
    artifactType: 'application/spdx+json',
    content: `sbom of ${repo}`,
  });
  const v1 = await pushImage(reg, repo, { tag: 'v1' });
  const sig = await pushCosign(reg, repo, v1, 'sig');
  return { amd64, arm64, index, sbom, v1, sig };
}

const id = (repo: string, p: Pushed) => `${repo}@${p.digest}`;

beforeAll(async () => {
  reg = await startRegistry();
  client = new RegistryClient({ url: reg.url });
});
afterAll(async () => {
  await reg?.stop();
});

describe('verifyRegistry', () => {
  it('a healthy repository: no problems, every tag, manifest and blob checked', async () => {
    await pushHealthy('healthy/app');
    const report = await verifyRegistry(client, { repositories: ['healthy/app'] });
    expect(report.problems).toEqual([]);
    // latest, v1, the SBOM fallback tag and the cosign signature tag.
    expect(report.tags).toHaveLength(4);
    expect(report.checked.manifests).toBeGreaterThanOrEqual(6);
    expect(report.checked.blobs).toBeGreaterThanOrEqual(8);
  });

  it('finds a deleted index child, a deleted layer, a signature whose image is gone, and a dangling tag', async () => {
    const repo = 'broken/app';
    const c = await pushHealthy(repo);
    const dangling = await pushImage(reg, repo, { tag: 'dangling' });
    await del(`${repo}/manifests/${c.arm64.digest}`); // distribution 2.8 allows it: no referential check
    await del(`${repo}/blobs/${c.amd64.layers[0]?.digest}`);
    await del(`${repo}/manifests/${c.v1.digest}`); // takes v1 with it, leaves its .sig tag
    // A registry crash mid-DELETE leaves a tag listed but pointing at nothing (distribution 2.8):
    // the revision link goes, the tag's link stays.
    const hex = dangling.digest.slice('sha256:'.length);
    await rm(
      join(
        reg.dataDir,
        `docker/registry/v2/repositories/${repo}/_manifests/revisions/sha256/${hex}`,
      ),
      { recursive: true },
    );

    const report = await verifyRegistry(client, { repositories: [repo] });
    const found = report.problems.map((p) => [p.kind, p.tag, p.id]);
    expect(found).toEqual(
      expect.arrayContaining([
        ['missing-manifest', `${repo}:latest`, id(repo, c.arm64)],
        ['missing-blob', `${repo}:latest`, c.amd64.layers[0]?.digest],
        ['missing-subject', `${repo}:${c.v1.digest.replace(':', '-')}.sig`, id(repo, c.v1)],
        ['dangling-tag', `${repo}:dangling`, `${repo}:dangling`],
      ]),
    );
    // The SBOM's fallback tag names the index, which is still there; its SBOM is fine.
    expect(report.problems.filter((p) => p.tag.includes(c.index.digest.slice(7)))).toEqual([]);
    const latest = report.problems.find((p) => p.kind === 'missing-manifest');
    expect(latest?.path).toEqual([id(repo, c.index), id(repo, c.arm64)]);
  });

  it('with tags, checks only those', async () => {
    const repo = 'some/app';
    const c = await pushHealthy(repo);
    await del(`${repo}/manifests/${c.arm64.digest}`);
    const onlyV1 = await verifyRegistry(client, { tags: [`${repo}:v1`] });
    expect(onlyV1.tags).toEqual([`${repo}:v1`]);
    expect(onlyV1.problems).toEqual([]);
    const withLatest = await verifyRegistry(client, { tags: [`${repo}:v1`, `${repo}:latest`] });
    expect(withLatest.problems.map((p) => p.kind)).toEqual(['missing-manifest']);
  });
});

describe('regprune verify', () => {
  it('exits 0 on a healthy repository and 1 naming what is broken, in every format', async () => {
    await pushHealthy('cli/ok');
    const ok = await runCliProcess(['verify', reg.url, '--repo', 'cli/ok']);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('OK: every tag pulls completely (4 tags');

    const c = await pushHealthy('cli/broken');
    await del(`cli/broken/manifests/${c.amd64.digest}`);
    const table = await runCliProcess(['verify', reg.url, '--repo', 'cli/**']);
    expect(table.code).toBe(1);
    expect(table.stdout).toMatch(/cli\/broken:latest +missing-manifest/);
    expect(table.stderr).toContain('BROKEN: 1 tag of 8 do not pull completely');
    const json = await runCliProcess(['verify', reg.url, '--repo', 'cli/broken', '-f', 'json']);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout).problems[0]).toMatchObject({
      kind: 'missing-manifest',
      tag: 'cli/broken:latest',
      id: id('cli/broken', c.amd64),
    });
    const md = await runCliProcess(['verify', reg.url, '--repo', 'cli/broken', '-f', 'markdown']);
    expect(md.stdout).toContain(
      `| \`cli/broken:latest\` | missing-manifest | \`${id('cli/broken', c.amd64)}\``,
    );
  });

  it('apply --verify checks the kept tags after applying (also when it deleted untagged platform manifests)', async () => {
    const repo = 'applied/app';
    await pushHealthy(repo);
    await pushImage(reg, repo, { tag: 'old' });
    // Its children go untagged, with no reason in their outcomes: the run still did not stop.
    await pushIndex(reg, repo, {
      tag: 'old-multi',
      manifests: [
        await pushImage(reg, repo, { salt: 'old-amd64' }),
        await pushImage(reg, repo, { salt: 'old-arm64', architecture: 'arm64' }),
      ],
    });
    const run = await runCliProcess([
      'apply',
      reg.url,
      '--repo',
      repo,
      '--keep',
      `${repo}:latest`,
      '--keep',
      `${repo}:v1`,
      '--yes',
      '--verify',
      '--format',
      'json',
    ]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const out = JSON.parse(run.stdout) as {
      result: { stopped?: boolean; outcomes: unknown[] };
      verify: { tags: string[]; problems: unknown[] };
    };
    expect(out.result.outcomes).toHaveLength(4);
    expect(out.result.stopped).toBeUndefined();
    expect(out.verify.tags).toEqual([`${repo}:latest`, `${repo}:v1`]);
    expect(out.verify.problems).toEqual([]);
  });

  it('a layout target is a usage error naming what checks layouts', async () => {
    const run = await runCliProcess(['verify', 'oci:./x']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('verify checks registries');
  });
});
