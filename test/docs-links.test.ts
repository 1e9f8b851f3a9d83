/**
 * The README and the pages in docs/ link to each other by relative path. A moved file or a renamed
 * heading breaks such a link silently on GitHub, so this checks every relative link and anchor:
 * the file must exist, and an `#anchor` must be the slug GitHub generates for a heading of it.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers/cli.js';

/** Lines outside fenced code blocks, so a `# comment` in a shell example is no heading. */
function proseLines(text: string): string[] {
  let fence = false;
  return text.split('\n').filter((line) => {
    if (/^\s*(```|~~~)/.test(line)) {
      fence = !fence;
      return false;
    }
    return !fence;
  });
}

/**
 * The anchor GitHub gives a heading: the rendered text (link targets, code ticks and emphasis
 * marks dropped) in lower case, every character that is not a letter, digit, mark, `_`, `-` or a
 * space removed, spaces turned into `-`; a repeated slug gets `-1`, `-2`, … in order.
 */
function headingSlugs(text: string): Set<string> {
  const seen = new Map<string, number>();
  const slugs = new Set<string>();
  for (const line of proseLines(text)) {
    const match = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!match) continue;
    const rendered = (match[1] as string)
      .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
      .replace(/<[^>]+>/g, '');
    const base = rendered
      .toLowerCase()
      .replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, '')
      .replace(/ /g, '-');
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    slugs.add(count === 0 ? base : `${base}-${count}`);
  }
  return slugs;
}

/** Relative link targets of a Markdown text: inline links and reference definitions. */
function relativeLinks(text: string): string[] {
  const targets: string[] = [];
  for (const line of proseLines(text)) {
    const prose = line.replace(/`[^`]*`/g, '');
    for (const m of prose.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g))
      targets.push(m[1] as string);
    const def = /^\s*\[[^\]]+\]:\s*<?(\S+?)>?(\s|$)/.exec(prose);
    if (def) targets.push(def[1] as string);
  }
  return targets.filter((t) => !/^[a-z][a-z0-9+.-]*:/i.test(t));
}

/**
 * Every broken relative link of the file at `path` (relative to ROOT), as `file: target (why)`.
 * `extra` adds files (absolute path → text) on top of the working tree.
 */
function brokenLinks(path: string, extra: Record<string, string> = {}): string[] {
  const read = (p: string) => extra[p] ?? readFileSync(p, 'utf8');
  const exists = (p: string) => p in extra || existsSync(p);
  const file = join(ROOT, path);
  const broken: string[] = [];
  for (const target of relativeLinks(read(file))) {
    const [pathPart, anchor] = target.split('#', 2) as [string, string | undefined];
    const resolved = pathPart ? join(dirname(file), decodeURIComponent(pathPart)) : file;
    if (!exists(resolved)) {
      broken.push(`${path}: ${target} (no file ${relative(ROOT, resolved)})`);
      continue;
    }
    if (anchor === undefined) continue;
    if (!resolved.endsWith('.md')) {
      broken.push(`${path}: ${target} (an anchor into a file that is not Markdown)`);
    } else if (!headingSlugs(read(resolved)).has(decodeURIComponent(anchor))) {
      broken.push(`${path}: ${target} (no heading #${anchor} in ${relative(ROOT, resolved)})`);
    }
  }
  return broken;
}

const pages = readdirSync(join(ROOT, 'docs'))
  .filter((name) => name.endsWith('.md'))
  .sort()
  .map((name) => `docs/${name}`);

describe('links between the README and docs/', () => {
  it('slugs headings as GitHub does', () => {
    const slugs = headingSlugs(
      [
        '# The core API (`regprune`)',
        '## Registry adapter (`regprune/registry`)',
        '### In CI: the GitHub Action',
        '## Untagging on distribution 2.8',
        '## Ctrl-C',
        '## What a journal can and cannot be trusted with',
        '## See [Safety](safety.md) and *more*',
        '## Examples',
        '## Examples',
        '```sh',
        '# not a heading',
        '```',
      ].join('\n'),
    );
    expect([...slugs]).toEqual([
      'the-core-api-regprune',
      'registry-adapter-regpruneregistry',
      'in-ci-the-github-action',
      'untagging-on-distribution-28',
      'ctrl-c',
      'what-a-journal-can-and-cannot-be-trusted-with',
      'see-safety-and-more',
      'examples',
      'examples-1',
    ]);
  });

  it('reports a missing file, a missing anchor and an anchor into a non-Markdown file', () => {
    const files: Record<string, string> = {
      [join(ROOT, 'docs/page.md')]:
        '# Page\n[a](missing.md) [b](#nowhere) [c](#page) [d](../package.json#x) [e](https://x.y/z)\n`[f](ignored.md)`\n',
    };
    expect(brokenLinks('docs/page.md', files)).toEqual([
      'docs/page.md: missing.md (no file docs/missing.md)',
      'docs/page.md: #nowhere (no heading #nowhere in docs/page.md)',
      'docs/page.md: ../package.json#x (an anchor into a file that is not Markdown)',
    ]);
  });

  it('every relative link and anchor in README.md and docs/*.md resolves', () => {
    expect(pages.length).toBeGreaterThanOrEqual(11);
    const checked = ['README.md', ...pages];
    expect(checked.flatMap((path) => brokenLinks(path))).toEqual([]);
    // The check is not vacuous: the README links to the pages, the pages to each other.
    expect(relativeLinks(readFileSync(join(ROOT, 'README.md'), 'utf8')).length).toBeGreaterThan(20);
  });

  it('the README links to every page in docs/', () => {
    const linked = new Set(
      relativeLinks(readFileSync(join(ROOT, 'README.md'), 'utf8')).map((t) => t.split('#')[0]),
    );
    expect(pages.filter((page) => !linked.has(page))).toEqual([]);
  });
});

describe("the README's first screen", () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const firstBlock = /```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
  const commands = firstBlock.split('\n').map((line) => line.replace(/\s+#.*$/, '').trim());

  it('runs the demo with a script package.json has', () => {
    expect(readme.indexOf('```sh')).toBeLessThan(1_000);
    const scripts = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts;
    expect(commands).toContain('npm ci && npm run demo');
    expect(scripts.demo).toMatch(/examples\/demo\/run-demo\.ts/);
  });

  it('runs all tests with exactly the command CI runs', () => {
    const ci = readFileSync(join(ROOT, '.ci/run'), 'utf8').split('\n');
    const testCommand = ci.find((line) => /^npm (test|run test)\b/.test(line));
    expect(testCommand).toBe('npm test');
    expect(commands).toContain(testCommand);
  });

  it('stays short: everything else is in docs/', () => {
    expect(readme.split('\n').length).toBeLessThanOrEqual(250);
  });
});
