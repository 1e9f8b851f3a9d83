import { verifyMarkdown, verifySummary, verifyTable } from '../../registry/format-verify.js';
import { verifyRegistry } from '../../registry/verify.js';
import type { VerifyOptions } from '../args.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import type { CliIo } from '../io.js';
import { openRegistryClient } from '../open-target.js';

/**
 * `regprune verify <registry>`: checks with the library's `verifyRegistry` that every tag pulls
 * completely. Exit 0 when it does, 1 when something is broken.
 */
export async function verifyCommand(options: VerifyOptions, io: CliIo): Promise<ExitCode> {
  const { target } = options;
  const client = await openRegistryClient(options, target, io);
  const report = await verifyRegistry(client, {
    ...(options.repos.length > 0 ? { repositories: options.repos } : {}),
  });
  if (options.format === 'json') io.stdout(`${JSON.stringify(report, null, 2)}\n`);
  else if (options.format === 'markdown') io.stdout(verifyMarkdown(report));
  else io.stdout(verifyTable(report));
  if (report.problems.length > 0) {
    io.stderr(`error: ${verifySummary(report)}\n`);
    return EXIT.error;
  }
  return EXIT.ok;
}
