import { resolve } from 'node:path';
import { restoreTable } from '../../registry/format-restore.js';
import { restore } from '../../registry/restore.js';
import type { RestoreOptions } from '../args.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import type { CliIo } from '../io.js';
import { journalKeyOf, openRegistryClient } from '../open-target.js';
import { createProgress } from '../progress.js';

/**
 * `regprune restore <registry> --journal FILE`: undoes an `apply --journal FILE` with the
 * library's `restore`, then prints what was pushed again. Exit 4 when a tag was left alone
 * because someone moved it since the cleanup.
 */
export async function restoreCommand(options: RestoreOptions, io: CliIo): Promise<ExitCode> {
  const { target, journal } = options;
  const client = await openRegistryClient(options, target, io);
  const key = journalKeyOf(io);
  const progress = createProgress(io);
  const result = await restore(client, resolve(io.cwd, journal), {
    allowOtherRegistry: options.allowOtherRegistry,
    ...(key !== undefined ? { journalKey: key } : {}),
    onProgress: (event) => progress.restore(event),
  }).finally(() => progress.end());
  if (options.format === 'json') io.stdout(`${JSON.stringify(result, null, 2)}\n`);
  else io.stdout(restoreTable(result, { target: client.url, journal }));
  const conflicts = result.tags.filter((t) => t.status === 'conflict').length;
  if (conflicts > 0) {
    io.stderr(
      `error: partly restored: ${conflicts} of ${result.tags.length} tags now point at images pushed after the cleanup and were left alone (see the result); tag them by hand if the old images are wanted\n`,
    );
    return EXIT.partial;
  }
  return EXIT.ok;
}
