/**
 * `regprune plan|apply|restore` on a GHCR-like target: the FAKE GitHub Packages API (from GitHub's
 * REST docs) over a REAL docker-registry, with the token from GITHUB_TOKEN. The host is 127.0.0.1,
 * so `--platform ghcr --platform-api URL` stands in for ghcr.io's automatic choice (as for GitHub
 * Enterprise Server).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CleanupPlan } from '../../src/core/plan-types.js';
import { cleanEnv, runCliInProcess, runCliProcess } from '../helpers/cli.js';
import {
  type FakeGitHubPackages,
  startFakeGitHubPackages,
} from '../helpers/fake-github-packages.js';
import { pushImage, tagManifest } from '../helpers/push.js';
import { pullsCompletely } from '../helpers/skopeo.js';

const TOKEN = 'ghp_cli_secret_token';
let fake: FakeGitHubPackages;
let work: string;

beforeAll(async () => {
  fake = await startFakeGitHubPackages({
    tokens: {
      [TOKEN]: { login: 'me', scopes: ['read:packages', 'delete:packages', 'write:packages'] },
    },
  });
  work = await mkdtemp(join(tmpdir(), 'regprune-cli-ghcr-'));
});
afterAll(async () => {
  await fake?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

const env = () => cleanEnv({ GITHUB_TOKEN: TOKEN });

describe('regprune on a fake GHCR (GitHub Packages API) with GITHUB_TOKEN', () => {
  it('plan --repo my-org/** --policy sees untagged versions on the first run; apply and restore work', async () => {
    const reg = fake.registry;
    const old = await pushImage(reg, 'my-org/web', { tag: 'v1', salt: 'web-v1' });
    const current = await pushImage(reg, 'my-org/web', { tag: 'v2', salt: 'web-v2' });
    await tagManifest(reg, 'my-org/web', 'latest', current.digest);
    const untagged = await pushImage(reg, 'my-org/web', { salt: 'web-untagged' });
    const api = await pushImage(reg, 'my-org/team/api', { tag: 'stable', salt: 'api' });
    const apiUntagged = await pushImage(reg, 'my-org/team/api', { salt: 'api-old' });
    const policy = join(work, 'p.yaml');
    await writeFile(
      policy,
      'rules:\n  - repositories: ["my-org/**"]\n    keepTags: [v2, latest, stable]\n',
    );
    const common = [
      '--repo',
      'my-org/**',
      '--policy',
      policy,
      '--platform',
      'ghcr',
      '--platform-api',
      fake.apiUrl,
    ];
    const planned = await runCliProcess(['plan', fake.host, ...common, '--format', 'json'], {
      env: env(),
      cwd: work,
    });
    expect(planned.stderr).toBe('');
    expect(planned.code).toBe(0);
    const plan = JSON.parse(planned.stdout) as CleanupPlan;
    expect(plan.delete.map((op) => op.image).sort()).toEqual(
      [
        `my-org/web@${old.digest}`,
        `my-org/web@${untagged.digest}`,
        `my-org/team/api@${apiUntagged.digest}`,
      ].sort(),
    );
    expect(planned.stdout).not.toContain(TOKEN);

    // A secondary rate limit on the way (retry-after: 1 s) is waited out.
    fake.secondaryLimit(1, 1);
    const journal = join(work, 'journal.jsonl');
    const applied = await runCliInProcess(
      ['apply', fake.host, ...common, '--yes', '--journal', journal],
      { env: env(), cwd: work },
    );
    expect(applied.stderr).not.toContain(TOKEN);
    expect(applied.code).toBe(0);
    // Three versions, each DELETEd (a 500 from the fake's registry is sent once more).
    expect(new Set(fake.apiLog.filter((l) => l.startsWith('DELETE '))).size).toBe(3);
    for (const tag of ['v2', 'latest'])
      await pullsCompletely(fake.host, 'my-org/web', tag, `me:${TOKEN}`);
    await pullsCompletely(fake.host, 'my-org/team/api', 'stable', `me:${TOKEN}`);
    expect(api.digest).toMatch(/^sha256:/);

    const restored = await runCliInProcess(
      [
        'restore',
        fake.host,
        '--journal',
        journal,
        '--platform',
        'ghcr',
        '--platform-api',
        fake.apiUrl,
      ],
      { env: env(), cwd: work },
    );
    expect(restored.code).toBe(0);
    expect(fake.apiLog.filter((l) => l.startsWith('POST ') && l.endsWith('/restore'))).toHaveLength(
      3,
    );
    await pullsCompletely(fake.host, 'my-org/web', 'v1', `me:${TOKEN}`);
  });

  it('refuses a bad --platform value and --api-rps, naming the option', async () => {
    const bad = await runCliInProcess(
      ['plan', fake.host, '--keep', 'a/b:c', '--platform', 'gitlab'],
      {
        env: env(),
      },
    );
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--platform.*"gitlab" is not one of ghcr, none/);
    const rps = await runCliInProcess(
      ['plan', fake.host, '--keep', 'a/b:c', '--platform', 'ghcr', '--api-rps', '0'],
      { env: env() },
    );
    expect(rps.code).toBe(2);
    expect(rps.stderr).toMatch(/--api-rps/);
  });
});
