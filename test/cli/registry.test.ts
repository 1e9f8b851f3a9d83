/** The CLI end to end against Debian's real docker-registry, through a child process. */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CleanupPlan } from '../../src/core/plan-types.js';
import { cleanEnv, runCliInProcess, runCliProcess } from '../helpers/cli.js';
import { basicAuth, startPasswordRegistry } from '../helpers/password-registry.js';
import {
  fallbackTag,
  listTags,
  manifestStatus,
  type Pushed,
  type PushTarget,
  pushCosign,
  pushImage,
  pushIndex,
  pushReferrer,
  tagManifest,
} from '../helpers/push.js';
import { type RunningRegistry, startRegistry } from '../helpers/registry-server.js';
import { pullsCompletely } from '../helpers/skopeo.js';

interface Scenario {
  repo: string;
  base: Pushed;
  main1: Pushed;
  main1Sig: Pushed;
  main2: Pushed;
  index: Pushed;
  arm64: Pushed;
  sbom: Pushed;
}

/**
 * `repo`: base (tag base-1) ← main-1 (signed, cosign style) and main-2; an index (latest, v1.0.0)
 * over amd64 + arm64 with an SBOM attached through `subject` and the fallback tag.
 */
async function pushScenario(target: PushTarget, repo: string): Promise<Scenario> {
  const base = await pushImage(target, repo, { tag: 'base-1', created: '2024-01-01T00:00:00Z' });
  const main1 = await pushImage(target, repo, {
    tag: 'main-1',
    parent: base,
    created: '2024-02-01T00:00:00Z',
  });
  const main2 = await pushImage(target, repo, {
    tag: 'main-2',
    parent: base,
    created: '2024-03-01T00:00:00Z',
  });
  const main1Sig = await pushCosign(target, repo, main1, 'sig');
  const amd64 = await pushImage(target, repo, {
    salt: 'amd64',
    architecture: 'amd64',
    created: '2024-03-02T00:00:00Z',
  });
  const arm64 = await pushImage(target, repo, {
    salt: 'arm64',
    architecture: 'arm64',
    created: '2024-03-02T00:00:00Z',
  });
  const index = await pushIndex(target, repo, { tag: 'latest', manifests: [amd64, arm64] });
  await tagManifest(target, repo, 'v1.0.0', index.digest);
  const sbom = await pushReferrer(target, repo, index, {
    artifactType: 'application/spdx+json',
    content: 'sbom',
  });
  return { repo, base, main1, main1Sig, main2, index, arm64, sbom };
}

const short = (digest: string) => digest.slice(0, 'sha256:'.length + 12);

let reg: RunningRegistry;
let team: Scenario;
let work: string;

beforeAll(async () => {
  reg = await startRegistry();
  work = await mkdtemp(join(tmpdir(), 'regprune-cli-registry-'));
  team = await pushScenario(reg, 'team/app');
  await pushImage(reg, 'other/tool', { tag: '1.0' });
});
afterAll(async () => {
  await reg?.stop();
  await rm(work, { recursive: true, force: true });
});

const keepLatestAndMain2 = (repo: string) => [
  '--keep',
  `${repo}:latest`,
  '--keep',
  `${repo}:main-2`,
];

describe('regprune plan on a registry', () => {
  it('table: the signed old build goes (signature first), the parent only loses its tag', async () => {
    const run = await runCliProcess([
      'plan',
      reg.url,
      '--repo',
      'team/**',
      ...keepLatestAndMain2('team/app'),
    ]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const out = run.stdout;
    const del = out.slice(out.indexOf('Delete ('), out.indexOf('Kept images'));
    // The cosign-style `sha256-<hex>.sig` tag is modelled as an attachment, not as a tag.
    expect(del).toMatch(
      new RegExp(`0 +team/app@${short(team.main1Sig.digest)} +referrer: signature +-`),
    );
    expect(del).toMatch(
      new RegExp(`1 +team/app@${short(team.main1.digest)} +manifest +team/app:main-1`),
    );
    const untag = out.slice(out.indexOf('Untag ('), out.indexOf('Delete ('));
    expect(untag).toContain(`team/app:base-1  team/app@${short(team.base.digest)}`);
    // v1.0.0 shares the index's digest with latest: it loses its tag, the index stays.
    expect(untag).toContain(`team/app:v1.0.0  team/app@${short(team.index.digest)}`);
    const kept = out.slice(out.indexOf('Kept images'), out.indexOf('Tag decisions'));
    expect(kept).toMatch(
      new RegExp(
        `team/app@${short(team.sbom.digest)} +referrer: SBOM +team/app:latest → .*\\(referrer\\)`,
      ),
    );
    expect(kept).toMatch(
      new RegExp(
        `team/app@${short(team.arm64.digest)} +manifest linux/arm64 +team/app:latest → .*\\(child\\)`,
      ),
    );
    expect(out).not.toContain('other/tool');
  });

  it('json and markdown carry the same plan, with whole digests', async () => {
    const args = ['plan', reg.url, '--repo', 'team/app', ...keepLatestAndMain2('team/app')];
    const json = await runCliProcess([...args, '--format', 'json']);
    const plan = JSON.parse(json.stdout) as CleanupPlan;
    expect(plan.delete.map((op) => op.image)).toEqual([
      `team/app@${team.main1Sig.digest}`,
      `team/app@${team.main1.digest}`,
    ]);
    expect(plan.untag).toEqual([
      { tag: 'team/app:base-1', image: `team/app@${team.base.digest}` },
      { tag: 'team/app:v1.0.0', image: `team/app@${team.index.digest}` },
    ]);
    const md = (await runCliProcess([...args, '--format', 'markdown'])).stdout;
    const deleteSection = md.slice(md.indexOf('### Delete'), md.indexOf('### Untag'));
    expect(deleteSection).toContain(
      `| 1 | \`team/app@${team.main1.digest}\` | manifest | \`team/app:main-1\` |`,
    );
    expect(md.slice(md.indexOf('### Untag'), md.indexOf('### Kept'))).toContain(
      `\`team/app:base-1\``,
    );
  });

  it('explain names the path that keeps an image', async () => {
    const run = await runCliProcess([
      'explain',
      reg.url,
      `team/app@${short(team.base.digest)}`,
      '--repo',
      'team/app',
      ...keepLatestAndMain2('team/app'),
    ]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`image team/app@${team.base.digest} (tags team/app:base-1)`);
    expect(run.stdout).toMatch(
      /kept: team\/app:main-2 → team\/app@sha256:[0-9a-f]{12} → team\/app@sha256:[0-9a-f]{12} \(parent\)/,
    );
  });
});

describe('--repo selections that select nothing', () => {
  it('a --repo glob that matches no repository is a plan warning, not a silent empty plan', async () => {
    const run = await runCliInProcess([
      'plan',
      reg.url,
      '--repo',
      'team/app',
      '--repo',
      'nothing/**',
      '--keep',
      'team/app:latest',
      '--format',
      'json',
    ]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const plan = JSON.parse(run.stdout) as CleanupPlan;
    expect(plan.warnings.map((w) => `${w.code} ${w.id}`)).toEqual([
      'REPO_OPTION_MATCHES_NOTHING --repo nothing/**',
    ]);
  });

  it('a misspelt literal in a policy keepTags is refused, naming the file, the entry and the near tag', async () => {
    const policy = join(work, 'typo.yaml');
    await writeFile(
      policy,
      'rules:\n  - repositories: ["team/app"]\n    keepTags: [lastest, "/^stable$/"]\n',
    );
    const run = await runCliInProcess(['plan', reg.url, '--repo', 'team/**', '--policy', policy]);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toContain(
      `error: ${policy}: rules[0].keepTags[0]: "lastest" names no tag among the tags rule 1 selects (did you mean "latest"?)`,
    );
    expect(run.stderr).toContain('/^lastest$/');
  });

  it('a policy with an empty --repo selection warns too', async () => {
    const policy = join(work, 'empty-selection.yaml');
    await writeFile(policy, 'rules:\n  - keepTags: [latest]\n');
    const run = await runCliInProcess([
      'plan',
      reg.url,
      '--repo',
      'nothing/*',
      '--policy',
      policy,
      '--format',
      'json',
    ]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const plan = JSON.parse(run.stdout) as CleanupPlan;
    expect(plan.warnings.map((w) => `${w.code} ${w.id}`)).toEqual([
      'REPO_OPTION_MATCHES_NOTHING --repo nothing/*',
    ]);
  });

  it('a --keep tag unknown because its --repo selected no repository names --repo, not the tag', async () => {
    for (const repo of ['gone/app', 'gone/*']) {
      const run = await runCliInProcess([
        'plan',
        reg.url,
        '--repo',
        repo,
        '--keep',
        'gone/app:latest',
      ]);
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(/^error: --repo: /);
      expect(run.stderr).toContain(`--repo ${JSON.stringify(repo)} selects no repository`);
      expect(run.stderr).not.toMatch(/unknown tag/);
    }
  });

  it('a --keep tag in a repository no --repo selects names --repo', async () => {
    const run = await runCliInProcess([
      'plan',
      reg.url,
      '--repo',
      'other/**',
      '--keep',
      'team/app:latest',
    ]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^error: --repo: /);
    expect(run.stderr).toContain('team/app');
    expect(run.stderr).not.toMatch(/unknown tag/);
  });
});

describe('regprune apply on a registry', () => {
  it('--yes deletes and untags; kept tags still pull completely; other repositories are untouched', async () => {
    const s = await pushScenario(reg, 'apply/app');
    const run = await runCliProcess(
      [
        'apply',
        reg.host,
        '--repo',
        'apply/app',
        ...keepLatestAndMain2('apply/app'),
        '--yes',
        '--journal',
        'apply.journal',
      ],
      { cwd: work },
    );
    expect(run.stderr, run.stdout).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/Applied: 4 done, 0 skipped, 0 failed/);
    expect(run.stdout).toContain('garbage collection');
    expect(await manifestStatus(reg, 'apply/app', s.main1.digest)).toBe(404);
    expect(await manifestStatus(reg, 'apply/app', s.main1Sig.digest)).toBe(404);
    expect(await manifestStatus(reg, 'apply/app', s.base.digest)).toBe(200);
    expect(await listTags(reg, 'apply/app')).toEqual(
      [fallbackTag(s.index.digest), 'latest', 'main-2'].sort(),
    );
    // Untagging v1.0.0 (same digest as latest) left latest, its children and its SBOM in place.
    for (const tag of ['latest', 'main-2']) await pullsCompletely(reg.host, 'apply/app', tag);
    expect(await manifestStatus(reg, 'apply/app', s.arm64.digest)).toBe(200);
    expect(await manifestStatus(reg, 'apply/app', s.sbom.digest)).toBe(200);
    // --journal (relative to the working directory) recorded every destructive request.
    const journal = (await readFile(join(work, 'apply.journal'), 'utf8')).trim().split('\n');
    expect(journal.length).toBeGreaterThan(0);
    const text = journal.join('\n');
    for (const digest of [s.main1.digest, s.main1Sig.digest]) expect(text).toContain(digest);
    expect(await listTags(reg, 'other/tool')).toEqual(['1.0']);
  });

  it('a plan refused by maxDeletions: 0 exits 3 and deletes nothing', async () => {
    await pushScenario(reg, 'capped/app');
    const before = await listTags(reg, 'capped/app');
    const policy = join(work, 'capped.yaml');
    await writeFile(policy, 'rules:\n  - keepTags: [latest]\nmaxDeletions: 0\n');
    const run = await runCliProcess([
      'apply',
      reg.url,
      '--repo',
      'capped/app',
      '--policy',
      policy,
      '--yes',
    ]);
    expect(run.code).toBe(3);
    expect(run.stdout).toMatch(/REFUSED by a safety cap/);
    expect(run.stderr).toMatch(/^error: the plan was refused by a safety cap/);
    expect(await listTags(reg, 'capped/app')).toEqual(before);
  });

  it('exit 4 when a tag is pushed onto a planned image while the prompt waits (in-process, real registry)', async () => {
    const s = await pushScenario(reg, 'stale/app');
    let prompted = '';
    async function* personAtTerminal() {
      // While the question is on screen, someone tags main-1 again.
      await tagManifest(reg, 'stale/app', 'hotfix', s.main1.digest);
      yield 'y\n';
    }
    const run = await runCliInProcess(
      ['apply', reg.url, '--repo', 'stale/app', ...keepLatestAndMain2('stale/app')],
      { stdin: personAtTerminal(), stdinIsTTY: true },
    );
    prompted = run.stderr;
    expect(prompted).toMatch(
      /Apply this plan to http:\/\/127\.0\.0\.1:\d+: delete 2 images, untag 2 tags\? \[y\/N\]/,
    );
    expect(run.code).toBe(4);
    expect(run.stderr, run.stdout).toMatch(/error: partly applied: 0 failed, \d+ skipped/);
    expect(run.stdout).toMatch(/changed since plan/);
    expect(await manifestStatus(reg, 'stale/app', s.main1.digest)).toBe(200);
    await pullsCompletely(reg.host, 'stale/app', 'hotfix');
  });

  it('answering no at the prompt changes nothing', async () => {
    const before = await listTags(reg, 'team/app');
    async function* no() {
      yield 'n\n';
    }
    const run = await runCliInProcess(
      ['apply', reg.url, '--repo', 'team/app', ...keepLatestAndMain2('team/app')],
      { stdin: no(), stdinIsTTY: true },
    );
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/error: not confirmed; nothing was changed/);
    expect(await listTags(reg, 'team/app')).toEqual(before);
  });
});

describe('credentials', () => {
  const USER = 'ci-bot';
  const PASSWORD = 'S3cret-Pa55word';
  let secured: RunningRegistry;
  let authTarget: PushTarget;

  beforeAll(async () => {
    ({ registry: secured, target: authTarget } = await startPasswordRegistry(USER, PASSWORD));
    await pushImage(authTarget, 'private/app', { tag: 'latest' });
    await pushImage(authTarget, 'private/app', { tag: 'old' });
  });
  afterAll(async () => {
    await secured?.stop();
  });

  const plan = () => ['plan', secured.url, '--repo', 'private/app', '--keep', 'private/app:latest'];
  const noSecret = (run: { stdout: string; stderr: string }) => {
    expect(run.stdout).not.toContain(PASSWORD);
    expect(run.stderr).not.toContain(PASSWORD);
    expect(run.stdout + run.stderr).not.toContain(basicAuth(USER, PASSWORD).slice('Basic '.length));
  };

  it('anonymous access is refused with an error naming what to check', async () => {
    const run = await runCliProcess(plan());
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^error: access refused \(HTTP 401\)/);
  });

  it('--username with --password-stdin works and never prints the password', async () => {
    const run = await runCliProcess([...plan(), '--username', USER, '--password-stdin'], {
      input: `${PASSWORD}\n`,
    });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/delete 1 image/);
    noSecret(run);
  });

  it('REGPRUNE_USERNAME and REGPRUNE_PASSWORD work', async () => {
    const run = await runCliProcess(plan(), {
      env: cleanEnv({ REGPRUNE_USERNAME: USER, REGPRUNE_PASSWORD: PASSWORD }),
    });
    expect(run.code).toBe(0);
    noSecret(run);
  });

  it('Docker config auths work', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'regprune-docker-config-'));
    const auth = basicAuth(USER, PASSWORD).slice('Basic '.length);
    await writeFile(
      join(dir, 'config.json'),
      JSON.stringify({ auths: { [secured.host]: { auth } } }),
    );
    const run = await runCliProcess([...plan(), '--format', 'json'], {
      env: cleanEnv({ DOCKER_CONFIG: dir }),
    });
    expect(run.code).toBe(0);
    expect((JSON.parse(run.stdout) as CleanupPlan).delete).toHaveLength(1);
    noSecret(run);
    await rm(dir, { recursive: true, force: true });
  });

  it('a wrong password fails without echoing it; --password is refused before any request', async () => {
    const wrong = await runCliProcess([...plan(), '--username', USER, '--password-stdin'], {
      input: 'not-the-Pa55word',
    });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/access refused/);
    expect(wrong.stderr + wrong.stdout).not.toContain('not-the-Pa55word');
    const plain = await runCliProcess([...plan(), '--username', USER, '--password', PASSWORD]);
    expect(plain.code).toBe(2);
    expect(plain.stderr).toMatch(/^error: --password: not accepted/);
    noSecret(plain);
  });
});
