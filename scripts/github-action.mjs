// The GitHub Action's one step (action.yml): turns the action's inputs (INPUT_* variables) into a
// `regprune apply` command line, runs it, and writes the step's outputs and job summary. Plain
// JavaScript with no dependencies, so the runner needs nothing but Node to run it.
import { spawn } from 'node:child_process';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Entries listed per section of the summary; the JSON plan artifact has them all. */
const LIST_CAP = 100;

const env = process.env;
const input = (name) => (env[`INPUT_${name.toUpperCase().replaceAll('-', '_')}`] ?? '').trim();
const list = (name) =>
  input(name)
    .split(/[\n,]/)
    .map((s) => s.trim())
    .filter(Boolean);
const flag = (name, fallback) => {
  const value = input(name).toLowerCase();
  if (value === '') return fallback;
  if (value === 'true') return true;
  if (value === 'false') return false;
  fail(2, `input ${name}: expected true or false, found ${JSON.stringify(value)}`);
};

function fail(code, message) {
  process.stdout.write(`::error title=regprune::${message.replaceAll('\n', '%0A')}\n`);
  setOutput('exit-code', String(code));
  process.exit(code);
}

function setOutput(name, value) {
  if (!env.GITHUB_OUTPUT) return;
  appendFileSync(env.GITHUB_OUTPUT, `${name}<<__regprune__\n${value}\n__regprune__\n`);
}

function summary(text) {
  if (env.GITHUB_STEP_SUMMARY) appendFileSync(env.GITHUB_STEP_SUMMARY, text);
}

/** The CLI to run: the published package of this action's own version, unless overridden (tests). */
function cliCommand() {
  if (env.REGPRUNE_ACTION_CLI) return JSON.parse(env.REGPRUNE_ACTION_CLI);
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
  const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  return ['npx', '--yes', `regprune@${input('version') || version}`];
}

function argv() {
  const target = input('target');
  if (!target)
    fail(2, 'input target is required (e.g. ghcr.io, registry.example.com, http://127.0.0.1:5000)');
  const args = ['apply', target];
  const policy = input('policy');
  const keep = list('keep');
  const drop = list('drop');
  const plan = input('plan');
  const bases = [
    policy && 'policy',
    keep.length > 0 && 'keep',
    drop.length > 0 && 'drop',
    plan && 'plan',
  ].filter(Boolean);
  if (bases.length !== 1)
    fail(
      2,
      `give exactly one of the inputs policy, keep, drop and plan (given: ${bases.join(', ') || 'none'})`,
    );
  if (policy) args.push('--policy', policy);
  for (const tag of keep) args.push('--keep', tag);
  for (const tag of drop) args.push('--drop', tag);
  if (plan) args.push('--plan', plan);
  if (input('plan-sha256')) args.push('--plan-sha256', input('plan-sha256'));
  for (const repo of list('repositories')) args.push('--repo', repo);
  if (input('state')) args.push('--state', input('state'));
  if (input('now')) args.push('--now', input('now'));
  if (input('max-deletions')) args.push('--max-deletions', input('max-deletions'));
  if (input('max-deletion-ratio')) args.push('--max-deletion-ratio', input('max-deletion-ratio'));
  const dryRun = flag('dry-run', true);
  if (dryRun) args.push('--dry-run');
  const journal = input('journal');
  if (journal && !dryRun) args.push('--journal', journal);
  if (flag('verify', false) && !dryRun) args.push('--verify');
  args.push('--yes', '--format', 'json');
  return { args, dryRun, journal: dryRun ? '' : journal };
}

function run(command, args, childEnv) {
  return new Promise((done, reject) => {
    const child = spawn(command[0], [...command.slice(1), ...args], {
      env: childEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
      process.stderr.write(chunk);
    });
    child.on('error', reject);
    child.on('close', (code) => done({ code: code ?? 1, stdout, stderr }));
  });
}

const md = (text) => String(text).replaceAll('|', '\\|').replaceAll('\n', ' ');

/** The CLI's reason: its last `error:` line (hints may follow it), else its last line. */
function lastError(stderr) {
  const lines = stderr.trim().split('\n');
  return lines.findLast((l) => l.startsWith('error:')) ?? lines.at(-1) ?? '';
}

function details(title, rows, header) {
  if (rows.length === 0) return '';
  const shown = rows.slice(0, LIST_CAP);
  const more = rows.length - shown.length;
  return [
    `<details><summary>${title} (${rows.length})</summary>`,
    '',
    `| ${header.join(' | ')} |`,
    `| ${header.map(() => '---').join(' | ')} |`,
    ...shown.map((row) => `| ${row.map(md).join(' | ')} |`),
    ...(more > 0 ? ['', `… and ${more} more (full list in the plan JSON artifact)`] : []),
    '',
    '</details>',
    '',
  ].join('\n');
}

function bytes(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

function summaryText(target, plan, result, dryRun, stderr, code) {
  const count = (action, status) =>
    result ? result.outcomes.filter((o) => o.action === action && o.status === status).length : 0;
  const lines = [
    `### regprune ${dryRun ? 'dry run' : 'cleanup'} of ${md(target)}`,
    '',
    `| | |`,
    `| --- | ---: |`,
    `| images planned for deletion | ${plan.delete.length} |`,
    `| tags planned for untagging | ${plan.untag.length} |`,
    `| images kept | ${plan.keep.length} |`,
    `| reclaimable after the registry's GC | ${bytes(plan.reclaimableBytes)} |`,
  ];
  if (result && !dryRun) {
    lines.push(
      `| deleted / untagged | ${count('delete', 'done')} / ${count('untag', 'done')} |`,
      `| skipped / failed | ${result.totals.skipped} / ${result.totals.failed} |`,
    );
  }
  if (plan.refused)
    lines.push(
      '',
      `**Refused by a safety cap:** ${md(plan.refused.reason)} — nothing was applied.`,
    );
  if (code !== 0 && !plan.refused) lines.push('', `**Exit ${code}:** ${md(lastError(stderr))}`);
  const perRepo = new Map();
  for (const op of plan.delete) {
    const repo = op.image.slice(0, op.image.indexOf('@'));
    perRepo.set(repo, (perRepo.get(repo) ?? 0) + 1);
  }
  const top = [...perRepo].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 10);
  lines.push('', '');
  lines.push(
    details(
      'Repositories with the most deletions',
      top.map(([r, n]) => [`\`${r}\``, String(n)]),
      ['repository', 'images'],
    ),
  );
  lines.push(
    details(
      'Delete',
      plan.delete.map((op) => [`\`${op.image}\``, op.tags.join(', ')]),
      ['image', 'tags'],
    ),
  );
  lines.push(
    details(
      'Untag',
      plan.untag.map((op) => [`\`${op.tag}\``, `\`${op.image}\``]),
      ['tag', 'image stays'],
    ),
  );
  if (result) {
    const troubles = result.outcomes.filter((o) => o.status === 'skipped' || o.status === 'failed');
    lines.push(
      details(
        'Skipped or failed',
        troubles.map((o) => [o.status, `\`${o.id}\``, o.reason ?? '']),
        ['status', 'id', 'why'],
      ),
    );
  }
  for (const w of plan.warnings.slice(0, LIST_CAP)) lines.push(`> ⚠️ ${md(w.message)}`);
  return `${lines.join('\n')}\n`;
}

const { args, dryRun, journal } = argv();
const childEnv = { ...env };
const username = input('username');
const password = input('password');
if (password) {
  // Masked in the log even when it was not passed as a secret.
  process.stdout.write(`::add-mask::${password}\n`);
  childEnv.REGPRUNE_PASSWORD = password;
  childEnv.REGPRUNE_USERNAME = username || 'token';
}
for (const key of Object.keys(childEnv)) if (key.startsWith('INPUT_')) delete childEnv[key];

const outcome = await run(cliCommand(), args, childEnv);
let document;
try {
  document = JSON.parse(outcome.stdout);
} catch {
  const last = lastError(outcome.stderr) || 'no output';
  summary(`### regprune failed\n\n${md(last)}\n`);
  fail(outcome.code || 1, last);
}
const { plan, result } = document;
const planFile = join(env.RUNNER_TEMP || tmpdir(), 'regprune-plan.json');
writeFileSync(planFile, `${JSON.stringify(plan, null, 2)}\n`);
const done = (action) =>
  result ? result.outcomes.filter((o) => o.action === action && o.status === 'done').length : 0;
setOutput('deleted', String(done('delete')));
setOutput('untagged', String(done('untag')));
setOutput('skipped', String(result?.totals.skipped ?? 0));
setOutput('failed', String(result?.totals.failed ?? 0));
setOutput('planned-deletions', String(plan.delete.length));
setOutput('reclaimable-bytes', String(plan.reclaimableBytes));
setOutput('plan', planFile);
setOutput('journal', journal ? resolve(journal) : '');
setOutput('exit-code', String(outcome.code));
summary(summaryText(input('target'), plan, result, dryRun, outcome.stderr, outcome.code));
if (outcome.code !== 0) {
  const reason =
    outcome.code === 3
      ? `refused by a safety cap: ${plan.refused?.reason ?? ''} (nothing was applied)`
      : outcome.code === 4
        ? `partly applied: ${result?.totals.failed ?? 0} failed, ${result?.totals.skipped ?? 0} skipped (see the job summary)`
        : lastError(outcome.stderr) || `exit ${outcome.code}`;
  fail(outcome.code, reason);
}
