/**
 * `npm run demo`: builds a small OCI image layout from images.yaml (parent chain, multi-arch
 * index, signature and SBOM, several tags on one digest, old builds) and runs regprune on it with
 * policy.yaml: the plan table, why some tags and images are kept or deleted, and the graph as
 * Mermaid. No network, no Docker; `--now` is fixed so the output is the same every time.
 *
 * Usage: npm run demo [-- LAYOUT-DIR]   (default: $TMPDIR/regprune-demo, rebuilt each run)
 */
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { processIo } from '../../src/cli/io.js';
import { runCli } from '../../src/cli/run.js';
import { buildDemoLayout } from './build-demo-layout.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** The demo's "now": a fixed date, so ages (and so the plan) never drift. */
export const DEMO_NOW = '2024-06-01T00:00:00Z';
const POLICY = relative(root, join(root, 'examples/demo/policy.yaml'));

async function step(title: string, argv: string[]): Promise<number> {
  process.stdout.write(`\n=== ${title}\n$ regprune ${argv.join(' ')}\n\n`);
  const code = await runCli(argv, { ...processIo(), cwd: root });
  if (code !== 0) process.stdout.write(`(exit code ${code})\n`);
  return code;
}

async function main(): Promise<number> {
  const dir = resolve(process.argv[2] ?? join(tmpdir(), 'regprune-demo'));
  await rm(dir, { recursive: true, force: true });
  const layout = await buildDemoLayout(dir);
  const target = `oci:${dir}`;
  const policy = ['--policy', POLICY, '--now', DEMO_NOW];
  process.stdout.write(
    `regprune demo: an OCI layout with ${Object.keys(layout.digests).length} images and ${Object.keys(layout.tags).length} tags in ${dir}\n`,
  );
  let failed = 0;
  const run = async (title: string, argv: string[]) => {
    if ((await step(title, argv)) !== 0) failed++;
  };
  await run('The plan', ['plan', target, ...policy]);
  await run('Why: a moving tag', ['explain', target, 'latest', ...policy]);
  await run('Why: a tag removed while its image stays (a parent)', [
    'explain',
    target,
    'base-2024.01',
    ...policy,
  ]);
  await run('Why: an old build and its signature go', ['explain', target, 'main-1', ...policy]);
  const sbom = (layout.digests['app-1.1-sbom'] as string).slice(0, 'sha256:'.length + 12);
  await run('Why: an SBOM stays with the index it is attached to', [
    'explain',
    target,
    sbom,
    ...policy,
  ]);
  await run('The graph (Mermaid; paste into any Mermaid viewer)', [
    'graph',
    target,
    ...policy,
    '--format',
    'mermaid',
  ]);
  return failed === 0 ? 0 : 1;
}

process.exitCode = await main();
