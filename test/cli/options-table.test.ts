/**
 * The option table drives the parser, the "registries only" checks and the help: each of them is
 * checked against the table here, so adding an option in one place only is caught.
 */
import { describe, expect, it } from 'vitest';
import { parseCommandLine } from '../../src/cli/args.js';
import { type CommandName, UsageError } from '../../src/cli/errors.js';
import { helpText } from '../../src/cli/help.js';
import { OPTIONS, type OptionSpec } from '../../src/cli/options.js';

const COMMANDS: CommandName[] = ['plan', 'apply', 'explain', 'graph', 'restore', 'verify'];
const table = Object.entries(OPTIONS) as [string, OptionSpec][];

/** A command line that parses for `command` apart from the option under test. */
function base(command: CommandName, target: string): string[] {
  if (command === 'restore') return [command, target, '--journal', 'j.jsonl'];
  if (command === 'verify') return [command, target];
  if (command === 'explain') return [command, target, 'latest', '--keep', 'latest'];
  return [command, target, '--keep', 'latest'];
}

function usageError(argv: string[]): UsageError | undefined {
  try {
    parseCommandLine(argv);
    return undefined;
  } catch (error) {
    if (error instanceof UsageError) return error;
    throw error;
  }
}

describe('the option table', () => {
  it('is what each command parses: its options are known, the others are not', () => {
    for (const command of COMMANDS) {
      for (const [name, spec] of table) {
        const argv = [...base(command, '127.0.0.1:5000'), `--${name}`];
        if (spec.type === 'string') argv.push('x');
        const error = usageError(argv);
        const unknown = error?.message.includes('unknown option') ?? false;
        expect(unknown, `${command} --${name}`).toBe(!spec.commands.includes(command));
      }
    }
  });

  it('is what each command shows in its help, and nothing else', () => {
    for (const command of COMMANDS) {
      const help = helpText(command);
      const shown = new Set([...help.matchAll(/^ {2}(?:-\w, )?--([a-z0-9-]+)/gm)].map((m) => m[1]));
      for (const [name, spec] of table) {
        const listed = spec.commands.includes(command) && !spec.refused;
        // restore takes --dry-run only to refuse it with a reason.
        if (command === 'restore' && name === 'dry-run') continue;
        expect(shown.has(name), `${command} --help lists --${name}`).toBe(listed);
      }
      for (const line of help.split('\n').filter((l) => /^ {2}-/.test(l))) {
        expect(line.length, line).toBeLessThanOrEqual(84);
      }
    }
  });

  it('refuses every registry-only option with a layout target, naming it and why', () => {
    const checked: string[] = [];
    for (const command of ['plan', 'apply', 'explain', 'graph'] as const) {
      for (const [name, spec] of table) {
        if (spec.registryOnly === undefined || !spec.commands.includes(command)) continue;
        const argv = [...base(command, 'oci:./layout'), `--${name}`];
        if (spec.type === 'string') argv.push('x');
        const error = usageError(argv);
        expect(error?.argument, `${command} --${name}`).toBe(`--${name}`);
        expect(error?.message).toContain(`applies to registry targets only; ${spec.registryOnly}`);
        checked.push(`${command} --${name}`);
      }
    }
    expect(checked).toContain('apply --journal');
    expect(checked).toContain('plan --repo');
    expect(checked).toContain('graph --password-stdin');
  });
});
