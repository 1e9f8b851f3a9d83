/**
 * Every example is exercised, so none can rot: the policies plan as their comments say, the Node
 * script runs against the real registry, the CI workflows parse and their regprune command lines
 * run (as dry runs) against the real registry, and the demo prints its sections.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseCommandLine } from '../src/cli/args.js';
import { ImageGraph } from '../src/core/image-graph.js';
import { parseImageReferences, resolveImageReferences } from '../src/core/image-references.js';
import { planCleanup } from '../src/core/plan.js';
import type { CleanupPlan } from '../src/core/plan-types.js';
import { loadPolicy } from '../src/core/policy/load.js';
import type { ImageInfo } from '../src/core/types.js';
import { cleanEnv, ROOT, runCliProcess } from './helpers/cli.js';
import { listTags, type Pushed, type PushTarget, pushImage, tagManifest } from './helpers/push.js';
import { type RunningRegistry, startRegistry } from './helpers/registry-server.js';
import { shellWords } from './helpers/shell-words.js';

const NOW = '2024-06-01T00:00:00Z';
const day = (iso: string) => `${iso}T12:00:00Z`;

function image(g: ImageGraph, repo: string, name: string, info: string | ImageInfo = {}): string {
  const id = `${repo}@sha256:${createHash('sha256').update(`${repo}/${name}`).digest('hex')}`;
  g.addImage(id, typeof info === 'string' ? { created: info } : info);
  return id;
}

async function policy(file: string) {
  return loadPolicy(await readFile(join(ROOT, 'examples/policies', file), 'utf8'));
}

const deleted = (plan: CleanupPlan) => plan.delete.map((op) => op.image).sort();

/** One check per policy file: a small graph that shows what the policy's comments promise. */
const POLICY_CASES: Record<string, () => Promise<void>> = {
  'keep-last-n-per-branch.yaml': async () => {
    const g = new ImageGraph();
    const builds: Record<string, string> = {};
    for (let n = 1; n <= 12; n++) {
      builds[`main-${n}`] = image(g, 'team/app', `main-${n}`);
      g.setTag(`team/app:main-${n}`, builds[`main-${n}`] as string);
    }
    for (let n = 1; n <= 3; n++)
      g.setTag(`team/app:feature-x-${n}`, image(g, 'team/app', `fx-${n}`));
    g.setTag('team/app:latest', builds['main-12'] as string);
    g.setTag('team/app:stable', builds['main-1'] as string);
    const other = image(g, 'other/tool', 'old');
    g.setTag('other/tool:old', other);
    const plan = planCleanup(g, await policy('keep-last-n-per-branch.yaml'), { now: NOW });
    // Natural order: main-10..12 are newer than main-9, so main-2 is the one build that goes;
    // main-1 loses its build tag but stays as `stable`; other/ is out of scope.
    expect(deleted(plan)).toEqual([builds['main-2']]);
    expect(plan.untag).toEqual([{ tag: 'team/app:main-1', image: builds['main-1'] }]);
    expect(plan.keep.some((k) => k.image === other)).toBe(true);
    expect(plan.refused).toBeNull();
  },
  'keep-releases-forever.yaml': async () => {
    const g = new ImageGraph();
    const ids: Record<string, string> = {};
    const tag = (name: string, created: string) => {
      ids[name] = image(g, 'app', name, created);
      g.setTag(`app:${name}`, ids[name] as string);
    };
    tag('1.0.0', day('2021-01-01'));
    tag('v2.0.0', day('2023-01-01'));
    for (let n = 1; n <= 11; n++) tag(`2.1.0-rc.${n}`, day('2024-01-01'));
    tag('dev-old', day('2024-04-01'));
    tag('dev-new', day('2024-05-20'));
    tag('latest', day('2022-01-01'));
    const plan = planCleanup(g, await policy('keep-releases-forever.yaml'), { now: NOW });
    // Semver order keeps rc.7..rc.11 (lexical order would keep rc.5..rc.9).
    const goes = ['dev-old', ...[1, 2, 3, 4, 5, 6].map((n) => `2.1.0-rc.${n}`)];
    expect(deleted(plan)).toEqual(goes.map((name) => ids[name]).sort());
    expect(plan.keptTags).toEqual(
      expect.arrayContaining([
        'app:1.0.0',
        'app:v2.0.0',
        'app:latest',
        'app:dev-new',
        'app:2.1.0-rc.10',
      ]),
    );
  },
  'pr-cleanup.yaml': async () => {
    const g = new ImageGraph();
    const ids: Record<string, string> = {};
    const tag = (name: string, pushed: string, repo = 'team/app') => {
      ids[name] ??= image(g, repo, name, { created: day('2024-01-01'), pushed });
      g.setTag(`${repo}:${name}`, ids[name] as string);
    };
    tag('pr-1', day('2024-05-01'));
    tag('pr-2-0a1b2c3', day('2024-05-30'));
    tag('pr-3', day('2024-05-01'));
    g.setTag('team/app:main', ids['pr-3'] as string);
    tag('v1.0.0', day('2023-01-01'));
    tag('pr-9', day('2023-01-01'), 'other/tool');
    const plan = planCleanup(g, await policy('pr-cleanup.yaml'), { now: NOW });
    // pr-1's build goes; pr-3's build stays for main (only the tag goes); pr-2 is two days old;
    // v1.0.0 is no pull-request build; other/ is out of scope.
    expect(deleted(plan)).toEqual([ids['pr-1']]);
    expect(plan.untag).toEqual([{ tag: 'team/app:pr-3', image: ids['pr-3'] }]);
    expect(plan.keptTags).toEqual([
      'other/tool:pr-9',
      'team/app:main',
      'team/app:pr-2-0a1b2c3',
      'team/app:v1.0.0',
    ]);
    expect(plan.tagDecisions?.find((d) => d.tag === 'team/app:pr-2-0a1b2c3')).toMatchObject({
      rule: 2,
      ageSource: 'pushed',
    });
    expect(plan.warnings).toEqual([]);
  },
  'untagged-grace.yaml': async () => {
    const g = new ImageGraph();
    const app = image(g, 'app', 'v1', day('2023-01-01'));
    g.setTag('app:v1', app);
    const fresh = image(g, 'app', 'fresh', day('2024-05-28'));
    const stale = image(g, 'app', 'stale', day('2024-05-01'));
    const cache = image(g, 'app', 'cache', {
      artifactType: 'application/vnd.buildkit.cacheconfig.v0',
    });
    g.addReferrer(cache, app);
    const sbom = image(g, 'app', 'sbom', { artifactType: 'application/spdx+json' });
    g.addReferrer(sbom, app);
    const plan = planCleanup(g, await policy('untagged-grace.yaml'), { now: NOW });
    // The 3-day-old untagged image stays, the month-old one goes; the build cache goes though
    // its subject stays; the SBOM follows its subject.
    expect(deleted(plan)).toEqual([cache, stale].sort());
    expect(plan.keep.map((k) => k.image)).toEqual(expect.arrayContaining([app, fresh, sbom]));
  },
};

describe('examples/policies', () => {
  it('every policy file has a check here', async () => {
    const files = (await readdir(join(ROOT, 'examples/policies'))).filter((f) =>
      /\.ya?ml$/.test(f),
    );
    expect(files.sort()).toEqual(Object.keys(POLICY_CASES).sort());
  });
  for (const [file, check] of Object.entries(POLICY_CASES))
    it(`${file} plans as its comments say`, check);
});

describe('examples/in-use/README.md', () => {
  it('its regprune command lines parse and read the list with --protect-from', async () => {
    const text = await readFile(join(ROOT, 'examples/in-use/README.md'), 'utf8');
    const lines = text.split('\n').filter((line) => /^npx regprune /.test(line));
    expect(lines.length).toBe(2);
    for (const line of lines) {
      const parsed = parseCommandLine(regpruneArgs(shellWords(line, {})));
      expect(parsed.kind).toBe('run');
      if (parsed.kind === 'run' && 'protectFrom' in parsed.options)
        expect(parsed.options.protectFrom).toEqual(['in-use.txt']);
      else expect.unreachable('a planning command');
    }
  });

  it('what its kubectl and ECS commands print resolves as it says', () => {
    const g = new ImageGraph();
    const v1 = image(g, 'team/app', 'v1');
    const v0 = image(g, 'team/app', 'v0');
    g.setTag('team/app:v1', v1);
    const digest = (id: string) => id.slice(id.indexOf('@') + 1);
    // kubectl '{..image} {..imageID}': spec images, then the digests the containers run (the
    // pod started on v0, which v1 has replaced under the same tag since).
    const kubectl = `registry.example.com/team/app:v1 nginx:1.25 registry.example.com/team/app:v1 docker.io/library/nginx:1.25 docker-pullable://registry.example.com/team/app@${digest(v0)} docker.io/library/nginx@sha256:${'0'.repeat(64)}`;
    // ECS text output: image and digest, tab separated, a line per container.
    const ecs = `registry.example.com/team/app:v1\t${digest(v1)}\n`;
    const resolved = resolveImageReferences(g, parseImageReferences(`${kubectl} ${ecs}`), {
      registryHost: 'registry.example.com:443',
      source: 'in-use.txt',
    });
    expect(resolved.images).toEqual([v0, v1].sort());
    expect(resolved.warnings.map((w) => `${w.code} ${w.id}`)).toEqual([
      'PROTECTED_IMAGE_OTHER_REGISTRY docker.io',
      'PROTECTED_IMAGE_NOT_FOUND nginx:1.25',
    ]);
  });
});

/** `team/app`: builds main-1..12 (latest on main-12); `other/tool:1.0` out of the policies' scope. */
async function pushBuilds(target: PushTarget): Promise<Record<string, Pushed>> {
  const builds: Record<string, Pushed> = {};
  for (let n = 1; n <= 12; n++) {
    builds[`main-${n}`] = await pushImage(target, 'team/app', {
      tag: `main-${n}`,
      layers: [`build ${n}`],
    });
  }
  await tagManifest(target, 'team/app', 'latest', (builds['main-12'] as Pushed).digest);
  await pushImage(target, 'other/tool', { tag: '1.0' });
  return builds;
}

function runNode(args: string[], env: Record<string, string>) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', ...args], { cwd: ROOT, env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('examples/node-script/cleanup.ts against the real registry', () => {
  let reg: RunningRegistry;
  let builds: Record<string, Pushed>;
  beforeAll(async () => {
    reg = await startRegistry();
    builds = await pushBuilds(reg);
  });
  afterAll(async () => {
    await reg?.stop();
  });

  it('is a dry run by default, then applies with REGPRUNE_APPLY=1', async () => {
    const env = cleanEnv({ REGISTRY_URL: reg.url, REGPRUNE_REPOSITORIES: 'team/**' });
    const before = await listTags(reg, 'team/app');
    const dry = await runNode(['examples/node-script/cleanup.ts'], env);
    expect(dry.stderr).toBe('');
    expect(dry.code).toBe(0);
    for (const n of [1, 2]) {
      expect(dry.stdout).toContain(
        `delete team/app@${builds[`main-${n}`]?.digest} (wave 0): deleted:`,
      );
    }
    expect(dry.stdout).toMatch(/dry run: 2 operations planned, nothing changed/);
    expect(await listTags(reg, 'team/app')).toEqual(before);

    const real = await runNode(['examples/node-script/cleanup.ts'], {
      ...env,
      REGPRUNE_APPLY: '1',
    });
    expect(real.code).toBe(0);
    expect(real.stdout).toMatch(/applied: 2 done, 0 skipped, 0 failed/);
    expect(await listTags(reg, 'team/app')).toEqual(
      before.filter((t) => t !== 'main-1' && t !== 'main-2'),
    );
    expect(await listTags(reg, 'other/tool')).toEqual(['1.0']);
  });

  it('without REGISTRY_URL it says what to set', async () => {
    const run = await runNode(['examples/node-script/cleanup.ts'], cleanEnv());
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/set REGISTRY_URL/);
  });
});

interface Workflow {
  file: string;
  /** Every shell line of the file that runs regprune. */
  lines: string[];
}

async function workflowLines(file: string): Promise<Workflow> {
  const doc = parse(await readFile(join(ROOT, file), 'utf8')) as Record<string, unknown>;
  const lines: string[] = [];
  const visit = (value: unknown, key: string) => {
    if (typeof value === 'string' && (key === 'run' || key === 'script')) {
      for (const line of value.split('\n'))
        if (/\bnpx\b.*\bregprune\b/.test(line)) lines.push(line.trim());
    } else if (Array.isArray(value)) {
      for (const item of value)
        visit(item, key === 'script' || key === 'after_script' ? 'script' : key);
    } else if (value && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) visit(v, k);
    }
  };
  visit(doc, '');
  return { file, lines };
}

/** The arguments after `npx [--yes] regprune[@version]`. */
function regpruneArgs(words: string[]): string[] {
  expect(words[0]).toBe('npx');
  let i = 1;
  while (words[i]?.startsWith('-')) i++;
  expect(words[i]).toMatch(/^regprune(@.+)?$/);
  return words.slice(i + 1);
}

describe('examples/github-actions and examples/gitlab-ci', () => {
  let reg: RunningRegistry;
  let builds: Record<string, Pushed>;
  beforeAll(async () => {
    reg = await startRegistry();
    builds = await pushBuilds(reg);
  });
  afterAll(async () => {
    await reg?.stop();
  });

  const env = () => ({
    REGPRUNE_TARGET: reg.host,
    REGPRUNE_POLICY: join(ROOT, 'examples/policies/keep-last-n-per-branch.yaml'),
    DRY_RUN: '--dry-run',
    GITHUB_STEP_SUMMARY: '/dev/null',
  });

  it('the GitHub workflow writes the apply output to the job summary, credentials from secrets', async () => {
    const text = await readFile(join(ROOT, 'examples/github-actions/regprune.yml'), 'utf8');
    const doc = parse(text) as {
      on: Record<string, unknown>;
      jobs: { cleanup: { env: Record<string, string>; steps: Array<{ run?: string }> } };
    };
    expect(Object.keys(doc.on)).toEqual(['schedule', 'workflow_dispatch']);
    expect(doc.jobs.cleanup.env.REGPRUNE_PASSWORD).toMatch(
      /^\$\{\{ secrets\.REGISTRY_PASSWORD \}\}$/,
    );
    const runs = doc.jobs.cleanup.steps.flatMap((s) => (s.run ? [s.run] : []));
    expect(runs.length).toBe(2);
    for (const run of runs) {
      expect(run).toMatch(/>> "\$GITHUB_STEP_SUMMARY"$/);
      expect(run).not.toContain('${{');
    }
  });

  it('the GitHub workflow keeps the undo journal as an artifact and the state file in a cache', async () => {
    const doc = parse(
      await readFile(join(ROOT, 'examples/github-actions/regprune.yml'), 'utf8'),
    ) as {
      jobs: {
        cleanup: {
          steps: Array<{ uses?: string; run?: string; if?: string; with?: Record<string, string> }>;
        };
      };
    };
    const steps = doc.jobs.cleanup.steps;
    const runs = steps.flatMap((s) => (s.run ? [s.run] : []));
    for (const run of runs) {
      expect(run).toContain('--journal regprune-journal.jsonl');
      expect(run).toContain('--state regprune-state.json');
    }
    const cache = steps.find((s) => s.uses?.startsWith('actions/cache@'));
    expect(cache?.with?.path).toBe('regprune-state.json');
    // A new key each run (caches are immutable), restored from the newest earlier one.
    expect(cache?.with?.key).toContain('github.run_id');
    expect(cache?.with?.['restore-keys']).toBeTruthy();
    expect(steps.indexOf(cache as (typeof steps)[number])).toBeLessThan(
      steps.findIndex((s) => s.run !== undefined),
    );
    const upload = steps.find((s) => s.uses?.startsWith('actions/upload-artifact@'));
    expect(upload?.if).toBe('always()');
    expect(upload?.with?.path).toContain('regprune-journal.jsonl');
  });

  it('the GitLab job keeps the undo journal as an artifact and the state file in a cache', async () => {
    const doc = parse(await readFile(join(ROOT, 'examples/gitlab-ci/.gitlab-ci.yml'), 'utf8')) as {
      regprune: {
        script: string[];
        cache: { key: string; paths: string[]; when?: string };
        artifacts: { paths: string[]; when: string };
      };
    };
    const job = doc.regprune;
    const line = job.script.at(-1) as string;
    expect(line).toContain('--journal regprune-journal.jsonl');
    expect(line).toContain('--state regprune-state.json');
    expect(job.cache.paths).toEqual(['regprune-state.json']);
    expect(job.cache.when).toBe('always');
    expect(job.artifacts.when).toBe('always');
    expect(job.artifacts.paths).toContain('regprune-journal.jsonl');
  });

  it('the GitLab job keeps the Markdown as an exposed artifact and prints it', async () => {
    const doc = parse(await readFile(join(ROOT, 'examples/gitlab-ci/.gitlab-ci.yml'), 'utf8')) as {
      regprune: {
        script: string[];
        after_script: string[];
        artifacts: { paths: string[]; expose_as: string };
      };
    };
    const job = doc.regprune;
    expect(job.script.at(-1)).toMatch(/> regprune-summary\.md$/);
    expect(job.artifacts.paths).toContain('regprune-summary.md');
    expect(job.after_script).toEqual(['cat regprune-summary.md || true']);
  });

  for (const file of [
    'examples/github-actions/regprune.yml',
    'examples/gitlab-ci/.gitlab-ci.yml',
  ]) {
    it(`${file}: its regprune command lines parse and run as dry runs against the real registry`, async () => {
      const { lines } = await workflowLines(file);
      expect(lines.length).toBeGreaterThan(0);
      const before = await listTags(reg, 'team/app');
      for (const line of lines) {
        const args = regpruneArgs(shellWords(line, env()));
        const parsed = parseCommandLine(args);
        expect(parsed.kind).toBe('run');
        if (parsed.kind !== 'run') continue;
        expect(parsed.options).toMatchObject({
          command: 'apply',
          yes: true,
          format: 'markdown',
          policy: env().REGPRUNE_POLICY,
          target: { kind: 'registry', url: reg.url },
        });
        const dryArgs =
          'dryRun' in parsed.options && parsed.options.dryRun ? args : [...args, '--dry-run'];
        // In a folder of its own, as on a runner: the state file it writes stays out of the repository.
        const cwd = await mkdtemp(join(tmpdir(), 'regprune-ci-example-'));
        const run = await runCliProcess(dryArgs, { cwd });
        // The state file is written on every run, dry runs included, for the cache to keep.
        const kept = await readdir(cwd);
        await rm(cwd, { recursive: true, force: true });
        if (args.includes('--state')) expect(kept).toContain('regprune-state.json');
        expect(run.stderr).toBe('');
        expect(run.code).toBe(0);
        expect(run.stdout.startsWith(`## regprune plan for \`${reg.url}\``)).toBe(true);
        const del = run.stdout.slice(
          run.stdout.indexOf('### Delete'),
          run.stdout.indexOf('### Untag'),
        );
        for (const n of [1, 2]) expect(del).toContain(`team/app@${builds[`main-${n}`]?.digest}`);
        expect(del).not.toContain(builds['main-3']?.digest);
        expect(run.stdout).toContain('### Dry run');
      }
      expect(await listTags(reg, 'team/app')).toEqual(before);
    });
  }
});

describe('npm run demo', () => {
  it('prints the plan, the reasons and the Mermaid graph, the same every time', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'regprune-demo-test-'));
    try {
      const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as {
        scripts: Record<string, string>;
      };
      expect(pkg.scripts.demo).toBe('node --import tsx examples/demo/run-demo.ts');
      const first = await runNode(['examples/demo/run-demo.ts', join(dir, 'layout')], cleanEnv());
      expect(first.stderr).toBe('');
      expect(first.code).toBe(0);
      const out = first.stdout;
      for (const heading of [
        '=== The plan',
        'Untag (1 tag removed',
        'Delete (6 images',
        'Kept images (12)',
        'Tag decisions (13)',
        '=== Why: a moving tag',
        'kept: rule 2 keepTags "latest"',
        'untagged: no rule kept it; base-2024.01 is removed',
        'deleted: no kept tag reaches it (its tags main-1 go with it)',
        '=== The graph',
        'flowchart LR',
        ':::deleted',
        '-->|referrer|',
      ]) {
        expect(out).toContain(heading);
      }
      expect(out).not.toContain('(exit code');
      const second = await runNode(['examples/demo/run-demo.ts', join(dir, 'layout')], cleanEnv());
      expect(second.stdout).toBe(out);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
