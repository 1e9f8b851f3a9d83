/** The checks of `restore` and `verify`, the two commands that take only a registry. */
import {
  checkFormat,
  platformOf,
  type RestoreOptions,
  type VerifyOptions,
} from './command-options.js';
import { UsageError } from './errors.js';
import type { OptionValues } from './options.js';
import { checkRepoGlobs } from './repo-selection.js';
import { parseTarget } from './target-spec.js';

/** `verify <registry> [--repo GLOB…]`: a registry, its repositories, a format and credentials. */
export function checkVerifyOptions(values: OptionValues, positionals: string[]): VerifyOptions {
  const usage = (argument: string, problem: string) => new UsageError('verify', argument, problem);
  const [targetText, extra] = positionals;
  if (targetText === undefined) throw usage('<target>', 'missing; name a registry, e.g. host:port');
  if (extra !== undefined) throw usage(extra, 'unexpected argument');
  const target = parseTarget('verify', targetText);
  if (target.kind === 'layout') {
    throw usage(
      '<target>',
      `${JSON.stringify(targetText)}: verify checks registries; an OCI layout is checked by \`umoci\` or \`skopeo copy oci:DIR:tag …\``,
    );
  }
  const repos = values.repo ?? [];
  checkRepoGlobs('verify', repos);
  if (values.username === '') throw usage('--username', 'needs a user name');
  return {
    command: 'verify',
    target,
    targetText,
    repos,
    format: checkFormat('verify', values.format),
    ...(values.username !== undefined ? { username: values.username } : {}),
    passwordStdin: values['password-stdin'] ?? false,
    ...platformOf('verify', values, target),
  };
}

/** `restore <registry> --journal FILE`: only a registry, a journal, a format and credentials. */
export function checkRestoreOptions(values: OptionValues, positionals: string[]): RestoreOptions {
  const usage = (argument: string, problem: string) => new UsageError('restore', argument, problem);
  const [targetText, extra] = positionals;
  if (targetText === undefined) {
    throw usage(
      '<target>',
      'missing; name the registry the journal was written for, e.g. host:port',
    );
  }
  if (extra !== undefined) throw usage(extra, 'unexpected argument');
  const target = parseTarget('restore', targetText);
  if (target.kind === 'layout') {
    throw usage(
      '<target>',
      `${JSON.stringify(targetText)}: restore needs a registry journal (written by \`regprune apply <registry> --journal FILE\`); an OCI layout has none, since apply rewrites it atomically`,
    );
  }
  if (values['dry-run']) {
    throw usage(
      '--dry-run',
      'not supported by restore: it checks that every blob and child manifest is still in the registry before it pushes anything, and changes nothing when one is missing',
    );
  }
  const format = checkFormat('restore', values.format);
  const journal = values.journal;
  if (journal === undefined) {
    throw usage(
      '--journal',
      'missing; name the undo journal `regprune apply --journal FILE` wrote',
    );
  }
  if (journal === '') throw usage('--journal', 'needs a file name');
  if (values.username === '') throw usage('--username', 'needs a user name');
  return {
    command: 'restore',
    target,
    targetText,
    format,
    ...(values.username !== undefined ? { username: values.username } : {}),
    passwordStdin: values['password-stdin'] ?? false,
    journal,
    allowOtherRegistry: values['allow-other-registry'] ?? false,
    ...platformOf('restore', values, target),
  };
}
