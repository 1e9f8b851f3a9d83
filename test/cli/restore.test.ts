/**
 * `regprune restore` end to end against Debian's real docker-registry: `apply --journal` through
 * the CLI, then `restore` through the CLI, checked with skopeo and the registry API.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { helpText } from '../../src/cli/help.js';
import type { CleanupPlan } from '../../src/core/plan-types.js';
import type { ApplyResult } from '../../src/core/target.js';
import { RESTORE_NOTE, type RestoreResult } from '../../src/registry/restore.js';
import { cleanEnv, runCliInProcess, runCliProcess } from '../helpers/cli.js';
import { basicAuth, startPasswordRegistry } from '../helpers/password-registry.js';
import {
  getManifest,
  listTags,
  manifestStatus,
  type PushTarget,
  pushCosign,
  pushImage,
  pushIndex,
  pushReferrer,
} from '../helpers/push.js';
import { garbageCollect, type RunningRegistry, startRegistry } from '../helpers/registry-server.js';
import { pullsCompletely } from '../helpers/skopeo.js';

const short = (digest: string) => digest.slice(0, 'sha256:'.length + 12);
const shortId = (id: string) => id.replace(/sha256:[0-9a-f]{64}/, (d) => short(d));
const reEscape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Every tag of `repo` with the digest it points at. */
async function tagMap(target: PushTarget, repo: string): Promise<Map<string, string>> {
  const map = new Map<string, string>();
  for (const tag of await listTags(target, repo)) {
    const found = await getManifest(target, repo, tag);
    if (found) map.set(tag, found.digest);
  }
  return map;
}

/**
 * A parent (base-1) with two builds on it (main-1, signed cosign style; main-2), and a tagged
 * multi-arch index (multi-1) over two platform manifests, with an SBOM attached through `subject`.
 * Keeping only main-2 deletes the signature, main-1, the index, its children and its SBOM, and
 * untags base-1.
 */
async function pushFixture(target: PushTarget, repo: string) {
  const base = await pushImage(target, repo, { tag: 'base-1', created: '2024-01-01T00:00:00Z' });
  const main1 = await pushImage(target, repo, { tag: 'main-1', parent: base, salt: 'main-1' });
  await pushImage(target, repo, { tag: 'main-2', parent: base, salt: 'main-2' });
  await pushCosign(target, repo, main1, 'sig');
  const amd64 = await pushImage(target, repo, { salt: 'amd64', architecture: 'amd64' });
  const arm64 = await pushImage(target, repo, { salt: 'arm64', architecture: 'arm64' });
  const multi = await pushIndex(target, repo, { tag: 'multi-1', manifests: [amd64, arm64] });
  await pushReferrer(target, repo, multi, {
    artifactType: 'application/spdx+json',
    content: 'sbom',
  });
  return { base, main1, multi, amd64, arm64 };
}

let reg: RunningRegistry;
let work: string;

beforeAll(async () => {
  reg = await startRegistry();
  work = await mkdtemp(join(tmpdir(), 'regprune-cli-restore-'));
});
afterAll(async () => {
  await reg?.stop();
  await rm(work, { recursive: true, force: true });
});

const noStack = (text: string) => expect(text).not.toMatch(/\n\s+at /);

describe('regprune restore on a registry', () => {
  it('undoes `apply --journal`: every tag points at its old digest again and pulls completely', async () => {
    const repo = 'undo/app';
    const f = await pushFixture(reg, repo);
    const before = await tagMap(reg, repo);

    const applied = await runCliProcess(
      [
        'apply',
        reg.host,
        '--repo',
        repo,
        '--keep',
        `${repo}:main-2`,
        '--yes',
        '--journal',
        'undo.jsonl',
        '--format',
        'json',
      ],
      { cwd: work },
    );
    expect(applied.stderr).toBe('');
    expect(applied.code).toBe(0);
    const { plan, result } = JSON.parse(applied.stdout) as {
      plan: CleanupPlan;
      result: ApplyResult;
    };
    expect(result.totals.failed + result.totals.skipped).toBe(0);
    const deleted = plan.delete.map((op) => op.image);
    for (const id of [f.main1, f.multi, f.amd64, f.arm64].map((p) => `${repo}@${p.digest}`))
      expect(deleted).toContain(id);
    expect(plan.untag.map((op) => op.tag)).toEqual([`${repo}:base-1`]);
    for (const id of deleted)
      expect(await manifestStatus(reg, repo, id.split('@')[1] as string)).toBe(404);
    const lost = [...before.keys()].filter((tag) => tag !== 'main-2').sort();
    expect(await listTags(reg, repo)).toEqual(['main-2']);
    // Gone from the registry: the planned images, and manifests only a lost tag held (the SBOM's
    // referrers fallback index, which the adapter removes with its subject).
    const gone: string[] = [...deleted];
    for (const tag of lost) {
      const id = `${repo}@${before.get(tag)}`;
      if (
        !gone.includes(id) &&
        (await manifestStatus(reg, repo, before.get(tag) as string)) === 404
      )
        gone.push(id);
    }
    expect(gone.length).toBeGreaterThan(deleted.length);

    // The journal path is relative to the working directory, as for apply.
    const run = await runCliProcess(['restore', reg.host, '--journal', 'undo.jsonl'], {
      cwd: work,
    });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const out = run.stdout;
    expect(out).toMatch(new RegExp(`^Restore of undo\\.jsonl to ${reEscape(reg.url)}\\n`));
    const manifests = out.slice(out.indexOf('Manifests ('), out.indexOf('Tags ('));
    for (const id of gone)
      expect(manifests).toMatch(new RegExp(`${reEscape(shortId(id))} +restored\\n`));
    // The untagged parent was never deleted: it was still there.
    expect(manifests).toMatch(
      new RegExp(`${reEscape(shortId(`${repo}@${f.base.digest}`))} +present`),
    );
    const tags = out.slice(out.indexOf('Tags ('), out.indexOf('Restored:'));
    for (const tag of lost) {
      const digest = before.get(tag) as string;
      expect(tags).toMatch(new RegExp(`${reEscape(`${repo}:${tag}`)} +${short(digest)} +restored`));
    }
    expect(out).toContain(
      `Restored: ${gone.length + 1} manifests (${gone.length} re-pushed, 1 already present); ${lost.length} tags (${lost.length} restored)`,
    );
    expect(out).toContain(`Note: ${RESTORE_NOTE}`);
    expect(out).not.toMatch(/sha256:[0-9a-f]{64}/);

    // The registry is as it was before the cleanup, and every tag pulls completely.
    expect(await tagMap(reg, repo)).toEqual(before);
    for (const tag of before.keys()) await pullsCompletely(reg.host, repo, tag);

    // Again, as JSON: the RestoreResult itself; everything is present, nothing is pushed.
    const again = await runCliProcess(
      ['restore', reg.url, '--journal', join(work, 'undo.jsonl'), '--format', 'json'],
      { cwd: tmpdir() },
    );
    expect(again.stderr).toBe('');
    expect(again.code).toBe(0);
    const restored = JSON.parse(again.stdout) as RestoreResult;
    expect(restored.manifests.map((m) => `${m.repository}@${m.digest}`).sort()).toEqual(
      [...gone, `${repo}@${f.base.digest}`].sort(),
    );
    expect(restored.manifests.every((m) => m.status === 'present')).toBe(true);
    expect(restored.tags.map((t) => t.tag).sort()).toEqual(lost.map((t) => `${repo}:${t}`));
    for (const t of restored.tags) {
      expect(t.status).toBe('present');
      expect(t.digest).toBe(before.get(t.tag.slice(repo.length + 1)));
    }
    expect(restored.notes).toEqual([RESTORE_NOTE]);
    expect(await tagMap(reg, repo)).toEqual(before);
  });

  it('shows progress on a terminal like apply: checks, manifests, tags; none in logs', async () => {
    const repo = 'undo/progress';
    await pushImage(reg, repo, { tag: 'keep', salt: 'p-keep' });
    await pushImage(reg, repo, { tag: 'old-1', salt: 'p-old-1' });
    await pushImage(reg, repo, { tag: 'old-2', salt: 'p-old-2' });
    const applied = await runCliProcess(
      ['apply', reg.url, '--repo', repo, '--keep', `${repo}:keep`, '--yes', '--journal', 'p.jsonl'],
      { cwd: work },
    );
    expect(applied.code).toBe(0);
    const tty = await runCliInProcess(['restore', reg.url, '--journal', 'p.jsonl'], {
      cwd: work,
      stderrIsTTY: true,
    });
    expect(tty.code).toBe(0);
    const frames = tty.stderr.split('\r\x1b[K').filter((f) => f !== '');
    expect(frames).toContain('restoring: checking [########################] 2/2');
    expect(frames).toContain('restoring: manifests [########################] 2/2');
    expect(frames).toContain('restoring: tags [########################] 2/2');
    // The last thing drawn is cleared, so the result starts on a clean line.
    expect(tty.stderr.endsWith('\r\x1b[K')).toBe(true);
    const log = await runCliInProcess(['restore', reg.url, '--journal', 'p.jsonl'], { cwd: work });
    expect(log.stderr).toBe('');
  });

  it('a tag moved since the cleanup is left alone: exit 4, reported as a conflict', async () => {
    const repo = 'undo/conflict';
    await pushImage(reg, repo, { tag: 'keep', salt: 'keep' });
    const old = await pushImage(reg, repo, { tag: 'old', salt: 'old' });
    const applied = await runCliProcess(
      ['apply', reg.url, '--repo', repo, '--keep', `${repo}:keep`, '--yes', '--journal', 'c.jsonl'],
      { cwd: work },
    );
    expect(applied.code).toBe(0);
    expect(await manifestStatus(reg, repo, old.digest)).toBe(404);
    const newer = await pushImage(reg, repo, { tag: 'old', salt: 'newer' });

    const run = await runCliInProcess(['restore', reg.url, '--journal', 'c.jsonl'], { cwd: work });
    expect(run.code).toBe(4);
    expect(run.stderr).toMatch(/^error: partly restored: 1 of 1 tags .* left alone/);
    expect(run.stdout).toMatch(
      new RegExp(
        `${reEscape(`${repo}:old`)} +${short(old.digest)} +conflict +the tag now points at ${reEscape(repo)}@${short(newer.digest)}`,
      ),
    );
    expect((await getManifest(reg, repo, 'old'))?.digest).toBe(newer.digest);
    // The image itself is back, reachable by digest.
    expect(await manifestStatus(reg, repo, old.digest)).toBe(200);
  });

  it('a journal that does not exist, or is damaged, exits 1 with the library message and changes nothing', async () => {
    const repo = 'undo/journalerror';
    await pushImage(reg, repo, { tag: 'keep' });
    const missing = await runCliProcess(['restore', reg.url, '--journal', 'missing.jsonl'], {
      cwd: work,
    });
    expect(missing.code).toBe(1);
    expect(missing.stdout).toBe('');
    expect(missing.stderr).toBe(
      `error: undo journal ${join(work, 'missing.jsonl')}: does not exist; nothing to restore\n`,
    );
    const damaged = join(work, 'damaged.jsonl');
    await writeFile(damaged, 'this is not a journal\n');
    const run = await runCliProcess(['restore', reg.url, '--journal', damaged]);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/^error: undo journal .*damaged\.jsonl: line 1 .*damaged\n$/);
    noStack(run.stderr);
    expect(await listTags(reg, repo)).toEqual(['keep']);
  });
});

describe("regprune restore and another registry's journal", () => {
  it('refuses a journal written for another registry (exit 1, naming both, nothing pushed); --allow-other-registry restores it', async () => {
    const mirror = await startRegistry();
    try {
      const repo = 'undo/mirror';
      for (const target of [reg, mirror]) {
        await pushImage(target, repo, { tag: 'keep', salt: 'keep' });
        await pushImage(target, repo, { tag: 'old', salt: 'old' });
      }
      const applied = await runCliProcess(
        [
          'apply',
          reg.url,
          '--repo',
          repo,
          '--keep',
          `${repo}:keep`,
          '--yes',
          '--journal',
          'mirror.jsonl',
        ],
        { cwd: work },
      );
      expect(applied.code).toBe(0);
      // The mirror's owner removed old on their own.
      const old = (await getManifest(mirror, repo, 'old'))?.digest as string;
      await fetch(`${mirror.url}/v2/${repo}/manifests/${old}`, { method: 'DELETE' });
      expect(await listTags(mirror, repo)).toEqual(['keep']);

      const refused = await runCliInProcess(['restore', mirror.url, '--journal', 'mirror.jsonl'], {
        cwd: work,
      });
      expect(refused.code).toBe(1);
      expect(refused.stdout).toBe('');
      expect(refused.stderr).toMatch(
        new RegExp(
          `^error: undo journal .*mirror\\.jsonl: it was written for ${reEscape(reg.url)}, not ${reEscape(mirror.url)}: .*--allow-other-registry`,
        ),
      );
      noStack(refused.stderr);
      expect(await listTags(mirror, repo)).toEqual(['keep']);
      expect(await manifestStatus(mirror, repo, old)).toBe(404);

      const forced = await runCliInProcess(
        ['restore', mirror.url, '--journal', 'mirror.jsonl', '--allow-other-registry'],
        { cwd: work },
      );
      expect(forced.stderr).toBe('');
      expect(forced.code).toBe(0);
      expect(forced.stdout).toMatch(new RegExp(`${reEscape(repo)}:old +${short(old)} +restored`));
      expect(await listTags(mirror, repo)).toEqual(['keep', 'old']);
    } finally {
      await mirror.stop();
    }
  });

  it('a journal written with REGPRUNE_JOURNAL_KEY needs the same key to restore; the key is never printed', async () => {
    const repo = 'undo/keyed';
    const KEY = 'journal-key-of-the-ci-job';
    await pushImage(reg, repo, { tag: 'keep', salt: 'keep' });
    const old = await pushImage(reg, repo, { tag: 'old', salt: 'old' });
    const applied = await runCliProcess(
      [
        'apply',
        reg.url,
        '--repo',
        repo,
        '--keep',
        `${repo}:keep`,
        '--yes',
        '--journal',
        'keyed.jsonl',
      ],
      { cwd: work, env: cleanEnv({ REGPRUNE_JOURNAL_KEY: KEY }) },
    );
    expect(applied.code).toBe(0);
    const args = ['restore', reg.url, '--journal', 'keyed.jsonl'];
    const without = await runCliInProcess(args, { cwd: work });
    expect(without.code).toBe(1);
    expect(without.stderr).toMatch(
      /^error: undo journal .*keyed\.jsonl: line 1: .*REGPRUNE_JOURNAL_KEY/,
    );
    const wrong = await runCliInProcess(args, {
      cwd: work,
      env: cleanEnv({ REGPRUNE_JOURNAL_KEY: 'wrong' }),
    });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/line 1: .*does not match the journal key/);
    expect(await listTags(reg, repo)).toEqual(['keep']);
    const run = await runCliInProcess(args, {
      cwd: work,
      env: cleanEnv({ REGPRUNE_JOURNAL_KEY: KEY }),
    });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`${reEscape(repo)}:old +${short(old.digest)} +restored`));
    for (const text of [applied.stdout, applied.stderr, without.stderr, wrong.stderr, run.stdout])
      expect(text).not.toContain(KEY);
  });
});

describe("regprune restore after the registry's garbage collection", () => {
  it('exits 1 naming the missing blob (RestoreBlobMissingError), without a stack, and pushes nothing', async () => {
    let gcReg = await startRegistry();
    const dataDir = gcReg.dataDir;
    const firstConfig = gcReg.configPath;
    try {
      const repo = 'gc/app';
      await pushImage(gcReg, repo, { tag: 'keep', salt: 'k', layers: ['kept layer'] });
      const old = await pushImage(gcReg, repo, { tag: 'old', salt: 'o', layers: ['old layer'] });
      const applied = await runCliProcess(
        ['apply', gcReg.url, '--keep', `${repo}:keep`, '--yes', '--journal', 'gc.jsonl'],
        { cwd: work },
      );
      expect(applied.code).toBe(0);
      await gcReg.stop({ keepData: true });
      const { eligible } = await garbageCollect(firstConfig);
      expect(eligible).toContain(old.layers[0]?.digest);
      gcReg = await startRegistry({ dataDir });

      // The restarted registry listens on another port: the same registry, so the override.
      const run = await runCliProcess(
        ['restore', gcReg.url, '--journal', 'gc.jsonl', '--allow-other-registry'],
        {
          cwd: work,
          env: cleanEnv({ REGPRUNE_DEBUG: '1' }),
        },
      );
      expect(run.code).toBe(1);
      expect(run.stdout).toBe('');
      expect(run.stderr).toMatch(
        new RegExp(
          `^error: cannot restore ${reEscape(repo)}@${old.digest}: its blob sha256:[0-9a-f]{64} is no longer in the registry.*garbage collection.*Nothing was restored\\.\\n$`,
        ),
      );
      noStack(run.stderr);
      expect(await listTags(gcReg, repo)).toEqual(['keep']);
      expect(await manifestStatus(gcReg, repo, old.digest)).toBe(404);
    } finally {
      await gcReg.stop();
      // The first registry's temporary folder holds the data, the second one's its config.
      await rm(dirname(dataDir), { recursive: true, force: true });
      await rm(dirname(gcReg.configPath), { recursive: true, force: true });
    }
  });
});

describe('regprune restore with credentials (like apply)', () => {
  const USER = 'ci-bot';
  const PASSWORD = 'S3cret-Pa55word';
  let secured: RunningRegistry;
  let authTarget: PushTarget;

  beforeAll(async () => {
    ({ registry: secured, target: authTarget } = await startPasswordRegistry(USER, PASSWORD));
  });
  afterAll(async () => {
    await secured?.stop();
  });

  it('anonymous is refused; --username with --password-stdin restores and never prints the secret', async () => {
    const repo = 'private/app';
    await pushImage(authTarget, repo, { tag: 'latest', salt: 'latest' });
    const old = await pushImage(authTarget, repo, { tag: 'old', salt: 'old' });
    const applied = await runCliProcess(
      ['apply', secured.url, '--keep', `${repo}:latest`, '--yes', '--journal', 'auth.jsonl'],
      { cwd: work, env: cleanEnv({ REGPRUNE_USERNAME: USER, REGPRUNE_PASSWORD: PASSWORD }) },
    );
    expect(applied.code).toBe(0);
    expect(await listTags(authTarget, repo)).toEqual(['latest']);

    const args = ['restore', secured.url, '--journal', 'auth.jsonl'];
    const anonymous = await runCliProcess(args, { cwd: work });
    expect(anonymous.code).toBe(1);
    expect(anonymous.stderr).toMatch(/^error: access refused \(HTTP 401\)/);
    expect(await listTags(authTarget, repo)).toEqual(['latest']);

    const run = await runCliProcess([...args, '--username', USER, '--password-stdin'], {
      cwd: work,
      input: `${PASSWORD}\n`,
    });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`${reEscape(repo)}:old +${short(old.digest)} +restored`));
    for (const text of [run.stdout, run.stderr, anonymous.stderr]) {
      expect(text).not.toContain(PASSWORD);
      expect(text).not.toContain(basicAuth(USER, PASSWORD).slice('Basic '.length));
    }
    expect((await getManifest(authTarget, repo, 'old'))?.digest).toBe(old.digest);
    await pullsCompletely(secured.host, repo, 'old', `${USER}:${PASSWORD}`);
  });
});

describe('regprune restore usage', () => {
  it.each([
    [['restore', 'http://127.0.0.1:5000'], /^error: --journal: missing/],
    [['restore', 'http://127.0.0.1:5000', '--journal', ''], /^error: --journal: needs a file name/],
    [['restore', 'oci:./layout', '--journal', 'j'], /^error: <target>: .*needs a registry journal/],
    [['restore', '--journal', 'j'], /^error: <target>: missing/],
    [
      ['restore', '127.0.0.1:5000', '--journal', 'j', '--dry-run'],
      /^error: --dry-run: not supported/,
    ],
    [
      ['restore', '127.0.0.1:5000', '--journal', 'j', '--keep', 'a:b'],
      /^error: --keep: unknown option/,
    ],
    [
      ['restore', '127.0.0.1:5000', '--journal', 'j', '--format', 'markdown'],
      /^error: --format: "markdown" is not one of table, json/,
    ],
    [
      ['restore', '127.0.0.1:5000', 'extra', '--journal', 'j'],
      /^error: extra: unexpected argument/,
    ],
  ])('%j exits 2 with the message and where the restore help is', async (argv, message) => {
    const run = await runCliInProcess(argv);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(message);
    expect(run.stderr).toContain('Run `regprune restore --help` for the options and examples.');
  });

  it('--help documents restore; the top-level help lists it', async () => {
    for (const argv of [
      ['restore', '--help'],
      ['help', 'restore'],
    ]) {
      const run = await runCliInProcess(argv);
      expect(run.code).toBe(0);
      expect(run.stdout).toBe(helpText('restore'));
    }
    const own = helpText('restore');
    for (const word of [
      'Usage: regprune restore',
      '--journal FILE',
      '--allow-other-registry',
      'REGPRUNE_JOURNAL_KEY',
      '--format',
      'json',
      '--password-stdin',
      'garbage collection',
      'no --dry-run',
      'Exit codes',
    ])
      expect(own).toContain(word);
    const main = await runCliInProcess(['--help']);
    expect(main.stdout).toContain('regprune restore <registry> --journal FILE');
    expect(helpText('apply')).toContain("'regprune restore'");
  });
});
