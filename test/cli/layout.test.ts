/** The CLI end to end on a real OCI layout (built by the demo's builder), through a child process. */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDemoLayout, type DemoLayout } from '../../examples/demo/build-demo-layout.js';
import type { CleanupPlan } from '../../src/core/plan-types.js';
import { loadLayoutGraph } from '../../src/layout/load-graph.js';
import { ROOT, runCliInProcess, runCliProcess } from '../helpers/cli.js';

const NOW = ['--now', '2024-06-01T00:00:00Z'];
const POLICY = ['--policy', join(ROOT, 'examples/demo/policy.yaml'), ...NOW];
/** What the demo policy must delete: old branch builds, the old rc, an old leftover, a signature of a deleted build. */
const DELETED = [
  'main-1',
  'main-1-signature',
  'main-2',
  'feature-x-1',
  'app-1.1-rc.1',
  'leftover-old',
];
const KEPT_TAGS = [
  'v1.0.0',
  'v1.1.0',
  'latest',
  'stable',
  'main-3',
  'main-4',
  'feature-x-2',
  'feature-x-3',
];

let work: string;
let shared: DemoLayout;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'regprune-cli-layout-'));
  shared = await buildDemoLayout(join(work, 'shared'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

const short = (digest: string) => digest.slice(0, 'sha256:'.length + 12);
const d = (name: string) => shared.digests[name] as string;

/** The lines of the table section whose title starts with `title`, up to the next blank line. */
function section(output: string, title: string): string {
  const lines = output.split('\n');
  const start = lines.findIndex((line) => line.startsWith(title));
  expect(start, `section "${title}" in:\n${output}`).toBeGreaterThanOrEqual(0);
  const end = lines.findIndex((line, i) => i > start && line === '');
  return lines.slice(start, end < 0 ? undefined : end).join('\n');
}

async function fresh(name: string): Promise<DemoLayout> {
  return buildDemoLayout(join(work, name));
}

async function snapshot(dir: string): Promise<{ index: string; blobs: string[] }> {
  return {
    index: await readFile(join(dir, 'index.json'), 'utf8'),
    blobs: (await readdir(join(dir, 'blobs', 'sha256'))).sort(),
  };
}

describe('regprune plan on a layout', () => {
  it('table: untag, delete (with waves and tags), kept reasons, tag decisions, bytes', async () => {
    const run = await runCliProcess(['plan', `oci:${shared.dir}`, ...POLICY]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const untag = section(run.stdout, 'Untag');
    expect(untag).toContain(`base-2024.01  @${short(d('base'))}`);
    const del = section(run.stdout, 'Delete');
    for (const name of DELETED) expect(del).toContain(`@${short(d(name))}`);
    for (const name of ['base', 'app-1.1', 'main-3', 'leftover-fresh']) {
      expect(del).not.toContain(short(d(name)));
    }
    // The signature of main-1 goes in an earlier wave than main-1 itself.
    const rowOf = (name: string) =>
      del.split('\n').find((l) => l.trim().split(/\s+/)[1] === `@${short(d(name))}`) ?? '';
    expect(rowOf('main-1')).toMatch(/^ {2}1 .* main-1 +tags not kept$/);
    // Each deletion says why: the signature goes with the build it signs.
    expect(rowOf('main-1-signature')).toMatch(
      new RegExp(`^ {2}0 .*referrer: signature .*referrer of deleted @${short(d('main-1'))}$`),
    );
    const kept = section(run.stdout, 'Kept images');
    expect(kept).toMatch(
      new RegExp(`@${short(d('app-1.1-sbom'))} +referrer: SBOM +latest → .*\\(referrer\\)`),
    );
    expect(kept).toMatch(
      new RegExp(`@${short(d('app-1.1-arm64'))} +manifest linux/arm64 +latest → .*\\(child\\)`),
    );
    expect(kept).toMatch(new RegExp(`@${short(d('base'))} .*\\(parent\\)`));
    expect(kept).toMatch(new RegExp(`@${short(d('leftover-fresh'))} .*untagged grace period`));
    const decisions = section(run.stdout, 'Tag decisions');
    expect(decisions).toMatch(/latest +keep +rule 2 keepTags "latest"/);
    expect(decisions).toMatch(/main-1 +delete +no rule kept it/);
    expect(decisions).toMatch(/main-4 +keep +rule 3 keepNewest 2/);
    expect(run.stdout).toMatch(/Reclaimable: \d+(\.\d)? (B|KiB) \(\d+ bytes\)/);
  });

  it('json: the plan itself, with the expected deletions and untag', async () => {
    const run = await runCliProcess(['plan', `oci:${shared.dir}`, ...POLICY, '--format', 'json']);
    expect(run.code).toBe(0);
    const plan = JSON.parse(run.stdout) as CleanupPlan;
    expect(plan.format).toBe('regprune.plan.v1');
    expect(plan.delete.map((op) => op.image).sort()).toEqual(DELETED.map((n) => `@${d(n)}`).sort());
    expect(plan.untag).toEqual([{ tag: 'base-2024.01', image: `@${d('base')}` }]);
    expect(plan.keptTags.sort()).toEqual([...KEPT_TAGS].sort());
    expect(plan.refused).toBeNull();
  });

  it('markdown: full ids in the right sections, GitHub tables', async () => {
    const run = await runCliProcess([
      'plan',
      `oci:${shared.dir}`,
      ...POLICY,
      '--format',
      'markdown',
    ]);
    expect(run.code).toBe(0);
    const md = run.stdout;
    expect(md).toMatch(/^## regprune plan for `oci:/);
    const part = (title: string) => md.slice(md.indexOf(`### ${title}`)).split(/\n### /)[0] ?? '';
    for (const name of DELETED) expect(part('Delete')).toContain(`\`@${d(name)}\``);
    expect(part('Delete')).toContain(`| 1 | \`@${d('main-1')}\` | manifest | \`main-1\` |`);
    expect(part('Untag')).toContain(`| \`base-2024.01\` | \`@${d('base')}\` |`);
    expect(part('Kept images')).toContain(`\`@${d('app-1.1-signature')}\``);
    expect(part('Kept images')).not.toContain(d('main-1'));
    expect(part('Tag decisions')).toMatch(/\| `stable` \| keep \| rule 2 keepTags "stable" \|/);
    expect(md).toContain('| --- | --- |');
  });
});

describe('reclaimable bytes of a layout plan', () => {
  it('the plan states config/layer blobs and deleted manifests, and their sum is what apply removes', async () => {
    const layout = await fresh('reclaim');
    const plan = await runCliProcess(['plan', `oci:${layout.dir}`, ...POLICY]);
    expect(plan.code).toBe(0);
    const total =
      /^Reclaimable: .* \((\d+) bytes\) in (\d+) files: (\d+) bytes in (\d+) config and layer blobs, (\d+) bytes in (\d+) deleted manifests$/m.exec(
        plan.stdout,
      );
    expect(total, plan.stdout).not.toBeNull();
    const [bytes, files, blobBytes, blobs, manifestBytes, manifests] = (total as RegExpExecArray)
      .slice(1)
      .map(Number);
    expect(bytes).toBe((blobBytes as number) + (manifestBytes as number));
    expect(files).toBe((blobs as number) + (manifests as number));
    expect(manifests).toBe(DELETED.length);
    const before = await snapshot(layout.dir);
    const apply = await runCliProcess(['apply', `oci:${layout.dir}`, ...POLICY, '--yes']);
    expect(apply.code).toBe(0);
    const removed = /removed (\d+) blobs \((\d+) bytes\)/.exec(apply.stdout);
    expect(removed, apply.stdout).not.toBeNull();
    expect(Number(removed?.[1])).toBe(files);
    expect(Number(removed?.[2])).toBe(bytes);
    // Counted on disk too, not only in what apply says of itself.
    const after = await snapshot(layout.dir);
    expect(before.blobs.length - after.blobs.length).toBe(files);
  });
});

describe('regprune explain on a layout', () => {
  it('explains a kept tag, an untagged parent, a deleted build, and a digest prefix', async () => {
    const target = `oci:${shared.dir}`;
    const latest = await runCliProcess(['explain', target, 'latest', ...POLICY]);
    expect(latest.code).toBe(0);
    expect(latest.stdout).toContain(`tag latest → @${d('app-1.1')}`);
    expect(latest.stdout).toContain('kept: rule 2 keepTags "latest"');
    const base = await runCliProcess(['explain', target, 'base-2024.01', ...POLICY]);
    expect(base.stdout).toMatch(/untagged: no rule kept it; base-2024.01 is removed, .* stays/);
    expect(base.stdout).toContain('(parent)');
    const main1 = await runCliProcess(['explain', target, 'main-1', ...POLICY, '--format', 'json']);
    const json = JSON.parse(main1.stdout) as {
      explanations: Array<{ id: string; explanation: string }>;
    };
    expect(json.explanations.map((e) => e.id)).toEqual(['main-1', `@${d('main-1')}`]);
    expect(json.explanations[1]?.explanation).toMatch(/^deleted: no kept tag reaches it/);
    const sbom = await runCliProcess(['explain', target, short(d('app-1.1-sbom')), ...POLICY]);
    expect(sbom.stdout).toContain(`image @${d('app-1.1-sbom')}`);
    expect(sbom.stdout).toMatch(/kept: latest → .* \(referrer\)/);
    // A deletion says which case it is: the signature of a deleted build, an expired untagged image.
    const sig = await runCliProcess(['explain', target, short(d('main-1-signature')), ...POLICY]);
    expect(sig.stdout).toContain(
      `deleted: a referrer (signature) of @${short(d('main-1'))}, which is deleted too; referrers go with their subject`,
    );
    const old = await runCliProcess(['explain', target, short(d('leftover-old')), ...POLICY]);
    expect(old.stdout).toMatch(
      /deleted: an expired untagged image \(created [^)]+\): no tag points at it/,
    );
    const unknown = await runCliProcess(['explain', target, 'nope', ...POLICY]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^error: nope: no tag or image of the target matches it/);
  });
});

describe('regprune graph on a layout', () => {
  it('mermaid: images styled by fate, tags as nodes, edges labelled by kind', async () => {
    const run = await runCliProcess(['graph', `oci:${shared.dir}`, ...POLICY]);
    expect(run.code).toBe(0);
    const lines = run.stdout.split('\n');
    expect(lines[0]).toBe('flowchart LR');
    const nodes = new Map<string, { node: string; cls: string }>();
    for (const line of lines) {
      const m = /^ {2}(i\d+)\["(sha256:[0-9a-f]{12})<br\/>.*"\]:::(\w+)$/.exec(line);
      if (m) nodes.set(m[2] as string, { node: m[1] as string, cls: m[3] as string });
    }
    expect(nodes.size).toBe(Object.keys(shared.digests).length);
    const node = (name: string) => nodes.get(short(d(name))) ?? { node: '?', cls: '?' };
    for (const name of DELETED) expect(node(name).cls).toBe('deleted');
    expect(node('base').cls).toBe('untagged');
    expect(node('app-1.1').cls).toBe('kept');
    expect(node('app-1.1-sbom').cls).toBe('kept');
    expect(lines).toContain(`  ${node('app-1.1').node} -->|child| ${node('app-1.1-arm64').node}`);
    expect(lines).toContain(`  ${node('main-3').node} -->|parent| ${node('base').node}`);
    expect(lines).toContain(`  ${node('app-1.1-sbom').node} -->|referrer| ${node('app-1.1').node}`);
    const tagNode = (text: string) =>
      lines.find((l) => l.includes(`(["${text}"])`))?.match(/^ {2}(t\d+)/)?.[1];
    const latest = tagNode('latest');
    expect(lines).toContain(`  ${latest} -.-> ${node('app-1.1').node}`);
    expect(lines.find((l) => l.includes('(["main-1 (deleted)"])'))).toMatch(/:::droppedTag$/);
    expect(lines.find((l) => l.includes('(["base-2024.01 (untagged)"])'))).toMatch(
      /:::droppedTag$/,
    );
  });

  it('dot and json agree on fates', async () => {
    const dot = await runCliProcess(['graph', `oci:${shared.dir}`, ...POLICY, '--format', 'dot']);
    expect(dot.code).toBe(0);
    expect(dot.stdout).toMatch(/^digraph regprune \{/);
    const lineOf = (name: string) =>
      dot.stdout.split('\n').find((l) => l.includes(`tooltip="@${d(name)}"`)) ?? '';
    expect(lineOf('main-2')).toContain('fillcolor="#f8d7da"');
    expect(lineOf('main-2')).toContain('dashed');
    expect(lineOf('app-1.1')).toContain('fillcolor="#d4edda"');
    expect(lineOf('base')).toContain('fillcolor="#fff3cd"');
    expect(dot.stdout).toMatch(/i\d+ -> i\d+ \[label="referrer"\];/);
    const json = await runCliProcess(['graph', `oci:${shared.dir}`, ...POLICY, '--format', 'json']);
    const view = JSON.parse(json.stdout) as {
      images: Array<{ id: string; fate: string; tags: Array<{ tag: string; fate: string }> }>;
      edges: Array<{ from: string; to: string; kind: string }>;
    };
    const fate = (name: string) => view.images.find((i) => i.id === `@${d(name)}`)?.fate;
    expect(fate('main-1')).toBe('delete');
    expect(fate('base')).toBe('untag');
    expect(fate('app-1.1-arm64')).toBe('keep');
    expect(view.images.find((i) => i.id === `@${d('app-1.1')}`)?.tags).toEqual([
      { tag: 'latest', fate: 'keep' },
      { tag: 'stable', fate: 'keep' },
      { tag: 'v1.1.0', fate: 'keep' },
    ]);
    expect(view.edges).toContainEqual({
      from: `@${d('main-1-signature')}`,
      to: `@${d('main-1')}`,
      kind: 'referrer',
    });
  });

  it('without a plan every image is plain', async () => {
    const run = await runCliProcess(['graph', `oci:${shared.dir}`, '--format', 'json']);
    const view = JSON.parse(run.stdout) as { images: Array<{ fate: string }> };
    expect(new Set(view.images.map((i) => i.fate))).toEqual(new Set(['none']));
  });
});

describe('regprune apply on a layout', () => {
  it('without a terminal and without --yes: exit 2 naming --yes, nothing changed', async () => {
    const layout = await fresh('no-yes');
    const before = await snapshot(layout.dir);
    const run = await runCliProcess(['apply', `oci:${layout.dir}`, ...POLICY]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^error: --yes: missing: standard input is not a terminal/);
    expect(run.stderr).toContain('Run `regprune apply --help`');
    expect(run.stdout).toBe('');
    expect(await snapshot(layout.dir)).toEqual(before);
  });

  it('a plan refused by maxDeletions: 0 exits 3 for plan and apply, and deletes nothing', async () => {
    const layout = await fresh('refused');
    const policy = join(work, 'capped.yaml');
    const text = await readFile(join(ROOT, 'examples/demo/policy.yaml'), 'utf8');
    await writeFile(policy, `${text.replace(/^maxDeletionRatio:.*$/m, '')}\nmaxDeletions: 0\n`);
    const before = await snapshot(layout.dir);
    const plan = await runCliProcess(['plan', `oci:${layout.dir}`, '--policy', policy, ...NOW]);
    expect(plan.code).toBe(3);
    expect(plan.stdout).toMatch(/REFUSED by a safety cap: .*maxDeletions/);
    const apply = await runCliProcess([
      'apply',
      `oci:${layout.dir}`,
      '--policy',
      policy,
      ...NOW,
      '--yes',
    ]);
    expect(apply.code).toBe(3);
    expect(apply.stderr).toMatch(
      /^error: the plan was refused by a safety cap: .*nothing was applied/,
    );
    // The advice (what to check, which cap to raise) is given once, on stdout and stderr alike.
    expect(apply.stderr.split('raise').length - 1).toBe(1);
    expect(plan.stdout.split('raise').length - 1).toBe(1);
    expect(apply.stdout).not.toContain('Result');
    expect(await snapshot(layout.dir)).toEqual(before);
  });

  it('--max-deletions and --max-deletion-ratio cap a keep list: exit 3, nothing applied', async () => {
    const layout = await fresh('cli-caps');
    const before = await snapshot(layout.dir);
    const keep = ['--keep', 'latest'];
    const plan = await runCliProcess([
      'plan',
      `oci:${layout.dir}`,
      ...keep,
      '--max-deletions',
      '1',
    ]);
    expect(plan.code).toBe(3);
    expect(plan.stdout).toMatch(
      /REFUSED by a safety cap: --max-deletions: the plan deletes \d+ images/,
    );
    const apply = await runCliProcess([
      'apply',
      `oci:${layout.dir}`,
      ...keep,
      '--max-deletion-ratio',
      '0.1',
      '--yes',
    ]);
    expect(apply.code).toBe(3);
    expect(apply.stderr).toMatch(/refused by a safety cap: .*--max-deletion-ratio/);
    expect(await snapshot(layout.dir)).toEqual(before);
    const roomy = await runCliProcess([
      'plan',
      `oci:${layout.dir}`,
      ...keep,
      '--max-deletion-ratio',
      '1',
    ]);
    expect(roomy.code).toBe(0);
    const bad = await runCliProcess([
      'plan',
      `oci:${layout.dir}`,
      ...keep,
      '--max-deletions',
      '1.5',
    ]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--max-deletions: "1.5" is not a whole number');
  });

  it('--dry-run changes nothing and lists what it would do', async () => {
    const layout = await fresh('dry');
    const before = await snapshot(layout.dir);
    const run = await runCliProcess(['apply', `oci:${layout.dir}`, ...POLICY, '--dry-run']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/Dry run: \d+ planned, 0 skipped, 0 failed — nothing was changed/);
    expect(await snapshot(layout.dir)).toEqual(before);
  });

  it('--yes deletes the plan\u2019s images; every kept tag still resolves to its image', async () => {
    const layout = await fresh('apply');
    const run = await runCliProcess([
      'apply',
      `oci:${layout.dir}`,
      ...POLICY,
      '--yes',
      '--format',
      'json',
    ]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const { result } = JSON.parse(run.stdout) as {
      result: { totals: { done: number; failed: number } };
    };
    expect(result.totals.failed).toBe(0);
    const graph = await loadLayoutGraph(layout.dir);
    for (const tag of KEPT_TAGS) expect(graph.tagTarget(tag)).toBe(`@${layout.tags[tag]}`);
    for (const tag of ['main-1', 'main-2', 'feature-x-1', 'v1.1.0-rc.1', 'base-2024.01']) {
      expect(graph.hasTag(tag)).toBe(false);
    }
    for (const name of DELETED) expect(graph.hasImage(`@${layout.digests[name]}`)).toBe(false);
    for (const name of ['base', 'app-1.1-arm64', 'app-1.1-sbom', 'leftover-fresh']) {
      expect(graph.hasImage(`@${layout.digests[name]}`)).toBe(true);
    }
    // Planning again finds nothing more to do.
    const again = await runCliProcess(['plan', `oci:${layout.dir}`, ...POLICY, '--format', 'json']);
    const plan = JSON.parse(again.stdout) as CleanupPlan;
    expect([plan.delete.length, plan.untag.length]).toEqual([0, 0]);
  });

  it('--keep with an unknown tag is an error naming the tag (a typo never widens a deletion)', async () => {
    const run = await runCliProcess(['plan', `oci:${shared.dir}`, '--keep', 'lastest']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^error: unknown tag "lastest"/);
  });
});

describe('progress', () => {
  it('is drawn on stderr only when stderr is a terminal, and never changes stdout', async () => {
    const args = ['plan', `oci:${shared.dir}`, ...POLICY];
    const quiet = await runCliInProcess(args);
    const tty = await runCliInProcess(args, { stderrIsTTY: true });
    expect(quiet.stderr).toBe('');
    expect(tty.stderr).toContain(`loading oci:${shared.dir}`);
    expect(tty.stderr.endsWith('\r\x1b[K')).toBe(true);
    expect(tty.stdout).toBe(quiet.stdout);
    expect(tty.code).toBe(0);
  });
});
