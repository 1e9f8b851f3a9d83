/**
 * Every ```ts block of README.md and docs/**\/*.md, against the BUILT package (tsup output, with
 * the package.json `exports`), imported as `regprune`, `regprune/registry` and `regprune/layout`
 * from a folder of its own: each block is type-checked (strict), and run unless marked.
 *
 * Markers, an HTML comment on the line(s) before a block:
 * - `<!-- snippet: typecheck-only -->`: needs a live registry or files; type-checked, not run.
 * - `<!-- snippet: continues -->`: appended to the previous block (same names in scope).
 */
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, TSX_LOADER } from './helpers/cli.js';

const run = promisify(execFile);

interface Snippet {
  name: string;
  code: string;
  typecheckOnly: boolean;
}

async function markdownFiles(): Promise<string[]> {
  const files = [join(ROOT, 'README.md')];
  const walk = async (dir: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const e of entries) {
      if (e.isDirectory()) await walk(join(dir, e.name));
      else if (e.name.endsWith('.md')) files.push(join(dir, e.name));
    }
  };
  await walk(join(ROOT, 'docs'));
  return files;
}

/**
 * The ts blocks of one Markdown file. A `continues` block is appended to the one before in a block
 * scope of its own (its imports hoisted), so it sees the earlier names and may reuse them.
 */
function extractSnippets(file: string, text: string): Snippet[] {
  const lines = text.split('\n');
  const out: Snippet[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/^```ts\s*$/.test(lines[i] as string)) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i] as string); i++)
      body.push(lines[i] as string);
    let marks = '';
    for (let j = start - 1; j >= 0 && /^\s*(<!--.*-->)?\s*$/.test(lines[j] as string); j--) {
      marks += lines[j];
    }
    const previous = out.at(-1);
    if (/snippet:\s*continues/.test(marks) && previous) {
      const imports = body.filter((line) => line.startsWith('import '));
      const rest = body.filter((line) => !line.startsWith('import '));
      previous.code = `${imports.join('\n')}\n${previous.code}\n{\n${rest.join('\n')}\n}`;
      previous.typecheckOnly ||= /typecheck-only/.test(marks);
      continue;
    }
    out.push({
      name: `${relative(ROOT, file)}:${start + 1}`,
      code: body.join('\n'),
      typecheckOnly: /snippet:\s*typecheck-only/.test(marks),
    });
  }
  return out;
}

let work: string;
const snippets: Snippet[] = [];
const files = new Map<Snippet, string>();

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'regprune-snippets-'));
  // The package as published: tsup's build with the package.json next to it.
  const pkg = join(work, 'pkg');
  await mkdir(pkg, { recursive: true });
  await run(
    process.execPath,
    [join(ROOT, 'node_modules/tsup/dist/cli-default.js'), '--out-dir', join(pkg, 'dist')],
    {
      cwd: ROOT,
    },
  );
  await cp(join(ROOT, 'package.json'), join(pkg, 'package.json'));
  await symlink(join(ROOT, 'node_modules'), join(pkg, 'node_modules'));
  const app = join(work, 'app');
  await mkdir(join(app, 'node_modules'), { recursive: true });
  await symlink(pkg, join(app, 'node_modules', 'regprune'));
  await symlink(join(ROOT, 'node_modules/@types'), join(app, 'node_modules', '@types'));
  await writeFile(join(app, 'package.json'), JSON.stringify({ type: 'module', private: true }));
  for (const file of await markdownFiles()) {
    snippets.push(...extractSnippets(file, await readFile(file, 'utf8')));
  }
  for (const [i, s] of snippets.entries()) files.set(s, join(app, `snippet-${i + 1}.ts`));
  for (const [s, path] of files) await writeFile(path, `${s.code}\nexport {};\n`);
  await writeFile(
    join(app, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        lib: ['ES2023'],
        types: ['node'],
        strict: true,
        noEmit: true,
        skipLibCheck: true,
      },
      include: ['*.ts'],
    }),
  );
}, 180_000);
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('ts code blocks of the docs, against the built package', () => {
  it('there are blocks to check (README.md at least)', () => {
    expect(snippets.length).toBeGreaterThan(3);
  });

  it('every block type-checks (strict) with only the package and Node types', async () => {
    const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
    const result = await run(process.execPath, [tsc, '-p', join(work, 'app')], { cwd: work }).then(
      () => '',
      (error: { stdout?: string }) => error.stdout ?? String(error),
    );
    // Name the Markdown block, not the temporary file.
    const named = result.replace(
      /snippet-(\d+)\.ts/g,
      (_, n) => snippets[Number(n) - 1]?.name ?? _,
    );
    expect(named).toBe('');
  }, 120_000);

  it('every block not marked typecheck-only runs, without reaching any host but this one', async () => {
    const runnable = snippets.filter((s) => !s.typecheckOnly);
    expect(runnable.length).toBeGreaterThan(0);
    // Docs name hosts like registry.example.com: a block that would contact one must be marked
    // typecheck-only, so the run refuses every name lookup but localhost's.
    const guard = join(work, 'offline-guard.cjs');
    await writeFile(
      guard,
      `const dns = require('node:dns');
const local = (h) => h === 'localhost' || /^127\\./.test(h) || h === '::1';
const refuse = (h) => Object.assign(new Error('docs snippet tried to reach ' + h + ': mark the block <!-- snippet: typecheck-only -->'), { code: 'ENOTFOUND' });
const lookup = dns.lookup;
dns.lookup = (h, o, cb) => { if (local(h)) return lookup(h, o, cb); (typeof o === 'function' ? o : cb)(refuse(h)); };
const plookup = dns.promises.lookup;
dns.promises.lookup = (h, o) => local(h) ? plookup(h, o) : Promise.reject(refuse(h));
`,
    );
    for (const s of runnable) {
      const path = files.get(s) as string;
      const outcome = await run(
        process.execPath,
        ['--require', guard, '--import', TSX_LOADER, path],
        {
          cwd: join(work, 'app'),
        },
      ).then(
        () => 'ok',
        (error: { stderr?: string }) => `${s.name}: ${error.stderr ?? String(error)}`,
      );
      expect(outcome).toBe('ok');
    }
  }, 120_000);
});
