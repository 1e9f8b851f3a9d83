/**
 * The GitHub Action (action.yml) run the way the runner runs a composite action's step: its inputs
 * as the step's `env:` maps them (INPUT_*), GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files,
 * GITHUB_ACTION_PATH, RUNNER_TEMP — against Debian's real docker-registry. Only GitHub itself is
 * missing: the CLI the action would fetch from npm is this checkout's (REGPRUNE_ACTION_CLI).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parsePlan } from '../../src/core/plan-file.js';
import { CLI_MAIN, cleanEnv, ROOT, TSX_LOADER } from '../helpers/cli.js';
import { startPasswordRegistry } from '../helpers/password-registry.js';
import { listTags, manifestStatus, type PushTarget, pushImage } from '../helpers/push.js';
import type { RunningRegistry } from '../helpers/registry-server.js';
import { pullsCompletely } from '../helpers/skopeo.js';
import { useTempDir } from '../helpers/temp-dir.js';

interface ActionYaml {
  inputs: Record<string, { required?: boolean; default?: string }>;
  outputs: Record<string, { value: string }>;
  runs: { using: string; steps: Array<{ id: string; env: Record<string, string>; run: string }> };
}

const USER = 'ci';
const PASSWORD = 'S3cret-action-pw';
let reg: RunningRegistry;
let push: PushTarget;
const work = useTempDir('regprune-action-');
let action: ActionYaml;

beforeAll(async () => {
  ({ registry: reg, target: push } = await startPasswordRegistry(USER, PASSWORD));
  action = parse(await readFile(join(ROOT, 'action.yml'), 'utf8')) as ActionYaml;
});
afterAll(async () => {
  await reg?.stop();
});

interface ActionRun {
  code: number | null;
  log: string;
  outputs: Record<string, string>;
  summary: string;
}

/** Runs the action's step with `inputs` (defaults from action.yml) as the runner would. */
async function runAction(name: string, inputs: Record<string, string>): Promise<ActionRun> {
  const dir = join(work(), name);
  await mkdir(dir, { recursive: true });
  const outputFile = join(dir, 'output');
  const summaryFile = join(dir, 'summary.md');
  await writeFile(outputFile, '');
  await writeFile(summaryFile, '');
  const values: Record<string, string> = {};
  for (const [key, spec] of Object.entries(action.inputs)) values[key] = spec.default ?? '';
  Object.assign(values, inputs);
  const step = action.runs.steps[0];
  if (!step) throw new Error('action.yml has no step');
  const env: Record<string, string> = cleanEnv({
    GITHUB_ACTION_PATH: ROOT,
    GITHUB_OUTPUT: outputFile,
    GITHUB_STEP_SUMMARY: summaryFile,
    RUNNER_TEMP: dir,
    REGPRUNE_ACTION_CLI: JSON.stringify([process.execPath, '--import', TSX_LOADER, CLI_MAIN]),
  });
  // The step's env: block, with `${{ inputs.x }}` substituted as the runner does.
  for (const [key, expression] of Object.entries(step.env)) {
    const input = /^\$\{\{ inputs\.([a-z0-9-]+) \}\}$/.exec(expression)?.[1];
    if (!input) throw new Error(`${key}: ${expression} is not an input`);
    env[key] = values[input] ?? '';
  }
  const script = step.run.replace('"$GITHUB_ACTION_PATH/', `"${ROOT}/`);
  const { code, log } = await new Promise<{ code: number | null; log: string }>((done) => {
    const child = spawn('bash', ['-c', script], {
      cwd: dir,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let log = '';
    child.stdout.on('data', (c: Buffer) => {
      log += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      log += c.toString();
    });
    child.on('close', (c) => done({ code: c, log }));
  });
  const outputs: Record<string, string> = {};
  const text = await readFile(outputFile, 'utf8');
  for (const m of text.matchAll(/^([a-z-]+)<<__regprune__\n([\s\S]*?)\n__regprune__$/gm)) {
    outputs[m[1] as string] = m[2] as string;
  }
  return { code, log, outputs, summary: await readFile(summaryFile, 'utf8') };
}

const credentials = { username: USER, password: PASSWORD };

describe('action.yml', () => {
  it('maps every input into the step environment and every output to the step', () => {
    expect(action.runs.using).toBe('composite');
    const step = action.runs.steps[0];
    for (const name of Object.keys(action.inputs)) {
      const key = `INPUT_${name.toUpperCase().replaceAll('-', '_')}`;
      expect(step?.env[key], name).toBe(`\${{ inputs.${name} }}`);
    }
    for (const [name, output] of Object.entries(action.outputs)) {
      expect(output.value, name).toBe(`\${{ steps.regprune.outputs.${name} }}`);
    }
    // Inputs never reach the shell line itself (no injection through an input's value).
    expect(step?.run).not.toContain('${{');
  });
});

describe('examples/github-actions/regprune-action.yml', () => {
  it('uses only inputs and outputs the action has, keeps the journal and plan, caches the state', async () => {
    const doc = parse(
      await readFile(join(ROOT, 'examples/github-actions/regprune-action.yml'), 'utf8'),
    ) as {
      jobs: {
        cleanup: {
          steps: Array<{ id?: string; uses?: string; with?: Record<string, string>; run?: string }>;
        };
      };
    };
    const steps = doc.jobs.cleanup.steps;
    const step = steps.find((s) => s.id === 'cleanup');
    expect(step?.uses).toMatch(/^regprune\/regprune@/);
    for (const key of Object.keys(step?.with ?? {}))
      expect(Object.keys(action.inputs)).toContain(key);
    const used = JSON.stringify(steps).matchAll(/steps\.cleanup\.outputs\.([a-z-]+)/g);
    for (const [, name] of used) expect(Object.keys(action.outputs)).toContain(name);
    expect(step?.with?.password).toMatch(/^\$\{\{ secrets\.REGISTRY_PASSWORD \}\}$/);
    const cache = steps.find((s) => s.uses?.startsWith('actions/cache'));
    expect(cache?.with?.path).toBe(step?.with?.state);
    const upload = steps.find((s) => s.uses?.startsWith('actions/upload-artifact'));
    expect(upload?.with?.path).toContain(step?.with?.journal);
  });
});

describe('the action against a real registry', () => {
  it('is a dry run by default: outputs, a plan artifact and a summary; nothing changes', async () => {
    await pushImage(push, 'dry/app', { tag: 'old' });
    await pushImage(push, 'dry/app', { tag: 'keep' });
    const run = await runAction('dry', {
      target: reg.url,
      keep: 'dry/app:keep',
      repositories: 'dry/app',
      ...credentials,
    });
    expect(run.code, run.log).toBe(0);
    expect(run.outputs).toMatchObject({
      'planned-deletions': '1',
      deleted: '0',
      journal: '',
      'exit-code': '0',
    });
    expect(Number(run.outputs['reclaimable-bytes'])).toBeGreaterThan(0);
    const plan = parsePlan(await readFile(run.outputs.plan as string, 'utf8'));
    expect(plan.origin?.target).toBe(reg.url);
    expect(run.summary).toContain('### regprune dry run of');
    expect(run.summary).toContain('<details><summary>Delete (1)</summary>');
    expect(await listTags(push, 'dry/app')).toEqual(['keep', 'old']);
  });

  it('dry-run false deletes, journals, verifies; the kept tag pulls completely', async () => {
    await pushImage(push, 'real/app', { tag: 'old' });
    const kept = await pushImage(push, 'real/app', { tag: 'keep' });
    const run = await runAction('real', {
      target: reg.url,
      keep: 'real/app:keep',
      repositories: 'real/app',
      'dry-run': 'false',
      ...credentials,
    });
    expect(run.code, run.log).toBe(0);
    expect(run.outputs).toMatchObject({
      deleted: '1',
      skipped: '0',
      failed: '0',
      'exit-code': '0',
    });
    expect(existsSync(run.outputs.journal as string)).toBe(true);
    expect(run.summary).toContain('| deleted / untagged | 1 / 0 |');
    expect(await listTags(push, 'real/app')).toEqual(['keep']);
    expect(await manifestStatus(push, 'real/app', kept.digest)).toBe(200);
    await pullsCompletely(reg.host, 'real/app', 'keep', `${USER}:${PASSWORD}`);
    // The password is masked for the log, and appears nowhere else.
    expect(run.log.replace(`::add-mask::${PASSWORD}`, '')).not.toContain(PASSWORD);
    expect(run.summary + JSON.stringify(run.outputs)).not.toContain(PASSWORD);
  });

  it('long lists are collapsed and capped in the summary', async () => {
    for (let i = 0; i < 105; i += 15) {
      const batch = Array.from({ length: Math.min(15, 105 - i) }, (_, j) => i + j);
      await Promise.all(batch.map((n) => pushImage(push, 'many/app', { tag: `b-${n}` })));
    }
    await pushImage(push, 'many/app', { tag: 'keep' });
    const run = await runAction('many', {
      target: reg.url,
      keep: 'many/app:keep',
      repositories: 'many/app',
      ...credentials,
    });
    expect(run.code, run.log).toBe(0);
    expect(run.outputs['planned-deletions']).toBe('105');
    expect(run.summary).toContain('<details><summary>Delete (105)</summary>');
    expect(run.summary).toContain('… and 5 more (full list in the plan JSON artifact)');
  });

  it('max-deletions refuses a plan over the cap: exit 3, the reason in the log and summary', async () => {
    await pushImage(push, 'capped/app', { tag: 'old' });
    await pushImage(push, 'capped/app', { tag: 'keep' });
    const run = await runAction('capped', {
      target: reg.url,
      keep: 'capped/app:keep',
      repositories: 'capped/app',
      'dry-run': 'false',
      'max-deletions': '0',
      ...credentials,
    });
    expect(run.code).toBe(3);
    expect(run.log).toContain('::error title=regprune::refused by a safety cap: --max-deletions');
    expect(run.summary).toContain('**Refused by a safety cap:**');
    expect(await listTags(push, 'capped/app')).toEqual(['keep', 'old']);
  });

  it('a bad combination of inputs fails the step with the reason', async () => {
    const run = await runAction('bad', { target: reg.url, keep: 'a/b:c', policy: 'p.yaml' });
    expect(run.code).toBe(2);
    expect(run.log).toContain(
      '::error title=regprune::give exactly one of the inputs policy, keep, drop and plan',
    );
    expect(run.outputs['exit-code']).toBe('2');
  });

  it('a CLI error fails the step with regprune’s message (wrong password)', async () => {
    const run = await runAction('denied', {
      target: reg.url,
      keep: 'real/app:keep',
      repositories: 'real/app',
      username: USER,
      password: 'wrong-password',
    });
    expect(run.code).toBe(1);
    expect(run.log).toMatch(
      /::error title=regprune::error: .*401|::error title=regprune::error: .*(credentials|refused|denied)/i,
    );
    expect(run.summary).toContain('### regprune failed');
  });
});
