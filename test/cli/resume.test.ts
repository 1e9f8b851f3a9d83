/**
 * `regprune apply --journal` run again and again with the same journal (issue 16 part 2), as a
 * user runs it: the quick start's weekly command, a Ctrl-C (SIGINT to the CLI process) and a
 * registry crash mid-apply, each followed by the same command. Child processes against Debian's
 * real docker-registry 2.8 (behind the fault proxy where the apply must be slow).
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readJournal } from '../../src/registry/journal.js';
import {
  CLI_MAIN,
  type CliRun,
  cleanEnv,
  ROOT,
  runCliProcess,
  TSX_LOADER,
} from '../helpers/cli.js';
import { type FaultProxy, startFaultProxy } from '../helpers/fault-proxy.js';
import { listTags, type PushTarget, pushImage, pushIndex } from '../helpers/push.js';
import { type RunningRegistry, startRegistry } from '../helpers/registry-server.js';
import { storedManifests } from '../helpers/registry-state.js';
import { shellWords } from '../helpers/shell-words.js';
import { pullsCompletely } from '../helpers/skopeo.js';

const POLICY = join(ROOT, 'examples/policies/keep-last-n-per-branch.yaml');

let reg: RunningRegistry;
let work: string;

beforeAll(async () => {
  reg = await startRegistry();
  work = await mkdtemp(join(tmpdir(), 'regprune-cli-resume-'));
});
afterAll(async () => {
  await reg?.stop();
  await rm(work, { recursive: true, force: true });
});

/** Builds `main-<from>`…`main-<to>` of `repo` (main-1 a multi-arch index), `latest` on the last. */
async function pushBuilds(target: PushTarget, repo: string, from: number, to: number) {
  for (let n = from; n <= to; n++) {
    if (n === 1) {
      const amd64 = await pushImage(target, repo, { salt: `${repo}-amd64`, architecture: 'amd64' });
      const arm64 = await pushImage(target, repo, { salt: `${repo}-arm64`, architecture: 'arm64' });
      await pushIndex(target, repo, { tag: 'main-1', manifests: [amd64, arm64] });
    } else await pushImage(target, repo, { tag: `main-${n}`, salt: `${repo}-${n}` });
  }
  await pushImage(target, repo, { tag: 'latest', salt: `${repo}-${to}` });
}

/** Every intent of the journal has its end: nothing was left half done. */
async function expectConsistent(journal: string): Promise<void> {
  const state = await readJournal(journal);
  expect(state).toBeDefined();
  for (const intent of state?.intents ?? [])
    expect(state?.ends.has(intent.seq), `end of record ${intent.seq}`).toBe(true);
}

describe('the same `apply --journal` command, run again', () => {
  it("the quick start's weekly command works every week with one undo.jsonl; restore undoes both weeks", async () => {
    const repo = 'team/weekly';
    await pushBuilds(reg, repo, 1, 12);
    const args = [
      'apply',
      reg.host,
      '--repo',
      'team/**',
      '--policy',
      POLICY,
      '--journal',
      'undo.jsonl',
      '--yes',
    ];
    const week1 = await runCliProcess(args, { cwd: work });
    expect(week1.stderr).not.toMatch(/error/);
    expect(week1.code).toBe(0);
    expect(await listTags(reg, repo)).not.toContain('main-2');

    await pushBuilds(reg, repo, 13, 15);
    const week2 = await runCliProcess(args, { cwd: work });
    expect(week2.stderr).not.toMatch(/error/);
    expect(week2.code).toBe(0);
    const kept = ['latest', ...Array.from({ length: 10 }, (_, i) => `main-${i + 6}`)].sort();
    expect((await listTags(reg, repo)).sort()).toEqual(kept);
    expect((await readJournal(join(work, 'undo.jsonl')))?.runs).toHaveLength(2);

    const restored = await runCliProcess(['restore', reg.host, '--journal', 'undo.jsonl'], {
      cwd: work,
    });
    expect(restored.stderr).toBe('');
    expect(restored.code).toBe(0);
    const all = ['latest', ...Array.from({ length: 15 }, (_, i) => `main-${i + 1}`)].sort();
    expect((await listTags(reg, repo)).sort()).toEqual(all);
    for (const tag of ['main-1', 'main-3', 'main-5', 'latest'])
      await pullsCompletely(reg.host, repo, tag);
  }, 180_000);
});

/** Starts `regprune ARGS` and returns the child with its collected output. */
function startCli(args: string[]) {
  const child = spawn(process.execPath, ['--import', TSX_LOADER, CLI_MAIN, ...args], {
    cwd: work,
    env: cleanEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const run: CliRun = { code: null, stdout: '', stderr: '' };
  child.stdout.on('data', (c: Buffer) => {
    run.stdout += c.toString();
  });
  child.stderr.on('data', (c: Buffer) => {
    run.stderr += c.toString();
  });
  const done = new Promise<CliRun>((resolve) => {
    child.on('close', (code) => {
      run.code = code;
      resolve(run);
    });
  });
  return { child, done };
}

async function until(what: string, check: () => boolean, ms = 60_000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const DIGEST_DELETE = /^DELETE \/v2\/[^ ]+\/manifests\/sha256:(?!0{64})/;

describe('Ctrl-C and a crash mid-apply (child processes)', () => {
  let proxy: FaultProxy;
  beforeAll(async () => {
    proxy = await startFaultProxy(reg.url);
  });
  afterAll(async () => {
    await proxy?.stop();
  });

  it('SIGINT: in-flight operations finish, exit 130, the printed command continues to a clean end', async () => {
    const repo = 'team/interrupted';
    await pushBuilds(reg, repo, 1, 30);
    // Every digest DELETE takes 300 ms: the apply runs for seconds, the signal lands mid-way.
    proxy.setRules([
      {
        method: 'DELETE',
        path: /\/manifests\/sha256:/,
        nth: 'all',
        fault: { kind: 'delay', ms: 300 },
      },
    ]);
    const args = [
      'apply',
      proxy.host,
      '--repo',
      repo,
      '--keep',
      `${repo}:latest`,
      '--journal',
      'J.jsonl',
      '--yes',
    ];
    const started = startCli(args);
    const base = proxy.log.length;
    const deletes = () => proxy.log.slice(base).filter((l) => DIGEST_DELETE.test(l)).length;
    await until('the first deletes', () => deletes() >= 3);
    started.child.kill('SIGINT');
    const first = await started.done;
    expect(first.stderr).toMatch(/stopping: no new operation starts/);
    expect(first.code).toBe(130);
    const sentBefore = deletes();
    expect(sentBefore).toBeLessThan(31);
    expect(first.stdout).toMatch(/not attempted: stopped/);
    await expectConsistent(join(work, 'J.jsonl'));
    const printed = /To continue, run the same command again:\n {2}(.+)\n/.exec(first.stderr)?.[1];
    expect(printed).toBeDefined();
    const words = shellWords(printed as string, {});
    expect(words).toEqual(['regprune', ...args]);

    proxy.setRules([]);
    const second = await runCliProcess(words.slice(1), { cwd: work });
    expect(second.stderr).not.toMatch(/error/);
    expect(second.code).toBe(0);
    expect(await listTags(reg, repo)).toEqual(['latest']);
    const latest = await storedManifests(reg, repo);
    expect(latest).toHaveLength(1);
    await pullsCompletely(reg.host, repo, 'latest');
    await expectConsistent(join(work, 'J.jsonl'));
  }, 180_000);

  it('a second SIGINT exits at once (130); the journal still reads and the same command finishes the job', async () => {
    const repo = 'team/twice';
    await pushBuilds(reg, repo, 1, 30);
    proxy.setRules([
      {
        method: 'DELETE',
        path: /\/manifests\/sha256:/,
        nth: 'all',
        fault: { kind: 'delay', ms: 4_000 },
      },
    ]);
    const args = [
      'apply',
      proxy.host,
      '--repo',
      repo,
      '--keep',
      `${repo}:latest`,
      '--journal',
      'twice.jsonl',
      '--yes',
    ];
    const started = startCli(args);
    // The proxy's log holds the earlier tests' requests too: count from here.
    const base = proxy.log.length;
    const deletes = () => proxy.log.slice(base).filter((l) => DIGEST_DELETE.test(l)).length;
    await until('the first deletes', () => deletes() >= 1);
    started.child.kill('SIGINT');
    await new Promise((r) => setTimeout(r, 200));
    const startedAt = Date.now();
    started.child.kill('SIGINT');
    const first = await started.done;
    // At once: not after the 4 s DELETEs in flight (at least 3.8 s of them left).
    expect(Date.now() - startedAt).toBeLessThan(2_500);
    expect(first.code).toBe(130);
    expect(first.stderr).toMatch(/interrupted again: exiting now/);
    expect(await readJournal(join(work, 'twice.jsonl'))).toBeDefined();

    proxy.setRules([]);
    const again = await runCliProcess(args, { cwd: work });
    expect(again.stderr).not.toMatch(/error/);
    expect(again.code).toBe(0);
    expect(await listTags(reg, repo)).toEqual(['latest']);
    expect(await storedManifests(reg, repo)).toHaveLength(1);
    await pullsCompletely(reg.host, repo, 'latest');
  }, 180_000);

  it('a registry crash (SIGKILL) mid-apply: restarted on its data and port, the same command finishes the job', async () => {
    const crash = await startRegistry({ dataDir: join(work, 'crash-data') });
    const front = await startFaultProxy(crash.url);
    let restarted: RunningRegistry | undefined;
    try {
      const repo = 'team/crash';
      await pushBuilds(crash, repo, 1, 30);
      front.setRules([
        {
          method: 'DELETE',
          path: /\/manifests\/sha256:/,
          nth: 'all',
          fault: { kind: 'delay', ms: 300 },
        },
      ]);
      const args = [
        'apply',
        front.host,
        '--repo',
        repo,
        '--keep',
        `${repo}:latest`,
        '--journal',
        'crash.jsonl',
        '--yes',
      ];
      const started = startCli(args);
      // Crashed once some deletes went through (a re-plan then differs from the first plan).
      const tagsBefore = (await listTags(crash, repo)).length;
      let tagsNow = tagsBefore;
      await until('some deletes done', () => {
        void listTags(crash, repo).then(
          (tags) => {
            tagsNow = tags.length;
          },
          () => {},
        );
        return tagsNow <= tagsBefore - 3;
      });
      await crash.stop({ keepData: true, signal: 'SIGKILL' });
      const first = await started.done;
      // The proxy in front answers 502 once the registry is gone: the run stops by itself.
      expect(first.code).toBe(4);
      expect(first.stdout + first.stderr).toMatch(/the registry stopped answering \(HTTP 502\)/);
      restarted = await startRegistry({ dataDir: crash.dataDir, port: crash.port });
      front.setRules([]);
      const again = await runCliProcess(args, { cwd: work });
      expect(again.stderr).not.toMatch(/error/);
      expect(again.code).toBe(0);
      expect(await listTags(restarted, repo)).toEqual(['latest']);
      expect(await storedManifests(restarted, repo)).toHaveLength(1);
      await pullsCompletely(restarted.host, repo, 'latest');
      await expectConsistent(join(work, 'crash.jsonl'));
    } finally {
      await front.stop();
      await restarted?.stop();
      await crash.stop();
    }
  }, 180_000);
});
