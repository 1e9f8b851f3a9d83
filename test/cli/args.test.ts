import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseCommandLine } from '../../src/cli/args.js';
import { UsageError } from '../../src/cli/errors.js';
import { helpText } from '../../src/cli/help.js';
import { parseTarget } from '../../src/cli/target-spec.js';
import { ROOT, runCliInProcess } from '../helpers/cli.js';

function usage(argv: string[]): UsageError {
  try {
    parseCommandLine(argv);
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return error as UsageError;
  }
  throw new Error(`parseCommandLine(${argv.join(' ')}) did not throw`);
}

describe('targets', () => {
  it.each([
    ['https://registry.example.com', 'https://registry.example.com', 'registry.example.com'],
    [
      'https://registry.example.com:8443/',
      'https://registry.example.com:8443',
      'registry.example.com:8443',
    ],
    ['http://127.0.0.1:5000', 'http://127.0.0.1:5000', '127.0.0.1:5000'],
    ['registry.example.com', 'https://registry.example.com', 'registry.example.com'],
    ['registry.example.com:5000', 'https://registry.example.com:5000', 'registry.example.com:5000'],
    ['127.0.0.1:5000', 'http://127.0.0.1:5000', '127.0.0.1:5000'],
    ['localhost:5000', 'http://localhost:5000', 'localhost:5000'],
  ])('%s is the registry %s', (text, url, host) => {
    expect(parseTarget('plan', text)).toEqual({ kind: 'registry', url, host });
  });

  it('oci:DIR is a layout, kept as written', () => {
    expect(parseTarget('plan', 'oci:./some dir')).toEqual({ kind: 'layout', dir: './some dir' });
  });

  it.each([
    ['oci:', /needs a directory/],
    ['ftp://host', /ftp:/],
    ['https://user:pw@host', /credentials in the URL/],
    ['./layout', /neither a registry .* nor an OCI layout/],
    ['not a host', /neither/],
  ])('%s is refused naming <target>', (text, message) => {
    const error = usage(['plan', text, '--keep', 'a:b']);
    expect(error.argument).toBe('<target>');
    expect(error.message).toMatch(message);
    expect(error.message).not.toContain('pw@');
  });
});

describe('parseCommandLine', () => {
  it('parses a plan with repeated --keep and --repo', () => {
    const line = parseCommandLine([
      'plan',
      'host:5000',
      '--keep',
      'team/app:latest',
      '--keep',
      'team/app:v1',
      '--repo',
      'team/**',
      '--format',
      'markdown',
      '--now',
      '2024-06-01T00:00:00Z',
    ]);
    expect(line.kind).toBe('run');
    if (line.kind !== 'run') return;
    expect(line.options).toMatchObject({
      command: 'plan',
      keep: ['team/app:latest', 'team/app:v1'],
      repos: ['team/**'],
      format: 'markdown',
      now: new Date('2024-06-01T00:00:00Z'),
      target: { kind: 'registry', url: 'https://host:5000' },
    });
  });

  it('parses apply flags and explain refs', () => {
    const apply = parseCommandLine(['apply', 'oci:x', '--policy', 'p.yaml', '-y', '--dry-run']);
    expect(apply).toMatchObject({
      kind: 'run',
      options: { yes: true, dryRun: true, policy: 'p.yaml' },
    });
    const explain = parseCommandLine(['explain', 'oci:x', 'latest', '--keep', 'latest']);
    expect(explain).toMatchObject({ kind: 'run', options: { ref: 'latest', format: 'text' } });
    const graph = parseCommandLine(['graph', 'oci:x']);
    expect(graph).toMatchObject({ kind: 'run', options: { format: 'mermaid', keep: [] } });
  });

  it.each([
    [['plan', 'oci:x', '--keep', 'a', '--bogus'], '--bogus', /unknown option/],
    [
      ['plan', 'oci:x', '--keep', 'a', '--format', 'yaml'],
      '--format',
      /"yaml" is not one of table, json, markdown/,
    ],
    [['graph', 'oci:x', '--format', 'table'], '--format', /mermaid, dot, json/],
    [['plan', 'oci:x'], '--policy', /needs --policy FILE, at least one --keep TAG or --drop TAG/],
    [['plan', 'oci:x', '--policy', 'p', '--keep', 'a'], '--keep', /cannot be combined/],
    [['plan'], '<target>', /missing/],
    [['explain', 'oci:x', '--keep', 'a'], '<ref>', /missing/],
    [['plan', 'oci:x', 'extra', '--keep', 'a'], 'extra', /unexpected/],
    [['plan', 'host:5000', '--keep', 'latest'], '--keep', /repo:tag/],
    [['plan', 'oci:x', '--keep', 'a', '--repo', 'app'], '--repo', /registry targets only/],
    [
      ['plan', 'host:5000', '--keep', 'team/app:latest', '--repo', 'other/**'],
      '--repo',
      /--keep team\/app:latest is in team\/app, which no --repo value selects \("other\/\*\*"\)/,
    ],
    [['plan', 'oci:x', '--keep', 'a', '--now', 'yesterday'], '--now', /ISO 8601/],
    [['plan', 'oci:x', '--policy'], '--policy', /needs a value/],
    [['apply', 'oci:x', '--keep', 'a', '--journal', 'j'], '--journal', /registry targets only/],
    [['plan', 'oci:x', '--keep', 'a', '--dry-run'], '--dry-run', /unknown option/],
    [['plan', 'oci:x', '--keep', 'a', '--username', 'u'], '--username', /registry targets only/],
    [['prune', 'oci:x'], 'prune', /unknown command/],
  ])('%j is a usage error naming %s', (argv, argument, message) => {
    const error = usage(argv);
    expect(error.argument).toBe(argument);
    expect(error.message).toMatch(message);
  });

  it('refuses --password with the reason, in every spelling, without echoing it', () => {
    for (const argv of [
      ['plan', 'host:5000', '--keep', 'a:b', '--password', 'hunter2'],
      ['apply', 'host:5000', '--keep', 'a:b', '--password=hunter2'],
      ['graph', 'host:5000', '--password'],
    ]) {
      const error = usage(argv);
      expect(error.argument).toBe('--password');
      expect(error.message).toMatch(/visible to other users .* --password-stdin/);
      expect(error.message).not.toContain('hunter2');
    }
  });

  it('asks for help and the version', () => {
    expect(parseCommandLine([])).toEqual({ kind: 'help' });
    expect(parseCommandLine(['--help'])).toEqual({ kind: 'help' });
    expect(parseCommandLine(['help', 'apply'])).toEqual({ kind: 'help', command: 'apply' });
    expect(parseCommandLine(['graph', '--help'])).toEqual({ kind: 'help', command: 'graph' });
    expect(parseCommandLine(['plan', 'oci:x', '-h'])).toEqual({ kind: 'help', command: 'plan' });
    expect(parseCommandLine(['--version'])).toEqual({ kind: 'version' });
  });
});

describe('runCli in-process', () => {
  it('--version prints package.json version', async () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const run = await runCliInProcess(['--version']);
    expect(run).toEqual({ code: 0, stdout: `${pkg.version}\n`, stderr: '' });
  });

  it('each command has its own --help on stdout, naming its options', async () => {
    const expected = {
      plan: ['--policy', '--keep', '--repo', '--format', 'table', 'markdown', '--now'],
      apply: ['--dry-run', '--yes', '--journal', 'Exit codes'],
      explain: ['<ref>', 'prefix'],
      graph: ['mermaid', 'dot', 'referrer'],
    } as const;
    for (const [command, words] of Object.entries(expected)) {
      const run = await runCliInProcess([command, '--help']);
      expect(run.code).toBe(0);
      expect(run.stdout).toBe(helpText(command as keyof typeof expected));
      expect(run.stdout).toContain(`Usage: regprune ${command}`);
      for (const word of words) expect(run.stdout).toContain(word);
    }
  });

  it('a usage error exits 2 with the message and one line pointing at that command\u2019s help', async () => {
    const run = await runCliInProcess(['graph', 'oci:x', '--format', 'svg']);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe(
      'error: --format: "svg" is not one of mermaid, dot, json\nRun `regprune graph --help` for the options and examples.\n',
    );
  });

  it('a missing policy file exits 1 naming the file', async () => {
    const run = await runCliInProcess(['plan', 'oci:/nonexistent', '--policy', 'nope.yaml']);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(
      'error: nope.yaml: cannot read the policy (no such file); check the --policy path\n',
    );
  });
});
