import { resolve } from 'node:path';
import type { CleanupTarget } from '../core/target.js';
import { layoutTarget } from '../layout/target.js';
import { RegistryClient } from '../registry/client.js';
import { registryTarget } from '../registry/target.js';
import type { BaseOptions, PlanningOptions } from './args.js';
import { resolveCredentials } from './credentials.js';
import type { CommandName } from './errors.js';
import type { CliIo } from './io.js';
import { clientPlatform } from './platform-options.js';
import type { TargetSpec } from './target-spec.js';

/** `REGPRUNE_JOURNAL_KEY`: the key of the undo journal's HMAC chain (unset or empty: none). */
export function journalKeyOf(io: CliIo): string | undefined {
  return io.env.REGPRUNE_JOURNAL_KEY || undefined;
}

/** A client for a registry target, with the credentials the command line and environment give. */
export async function openRegistryClient(
  options: BaseOptions & { command: CommandName },
  spec: Extract<TargetSpec, { kind: 'registry' }>,
  io: CliIo,
): Promise<RegistryClient> {
  const auth = await resolveCredentials(options, spec.host, io);
  const platform = clientPlatform(options.platform);
  return new RegistryClient({
    url: spec.url,
    ...(auth ? { auth } : {}),
    ...(platform ? { platform } : {}),
  });
}

/**
 * Opens the command line's target (resolving credentials for registries) as the same
 * {@link CleanupTarget} a script gets from `registryTarget` or `layoutTarget`.
 */
export async function openTarget(options: PlanningOptions, io: CliIo): Promise<CleanupTarget> {
  const spec = options.target;
  if (spec.kind === 'layout') return layoutTarget(resolve(io.cwd, spec.dir));
  const client = await openRegistryClient(options, spec, io);
  const key = journalKeyOf(io);
  return registryTarget(client, {
    ...(options.repos.length > 0 ? { repositories: options.repos } : {}),
    ...(options.storage !== undefined ? { storage: resolve(io.cwd, options.storage) } : {}),
    ...(options.state !== undefined ? { state: resolve(io.cwd, options.state) } : {}),
    // --now is this run's time for the state file too (first sightings), so a plan stays reproducible.
    ...(options.now !== undefined ? { seenAt: options.now } : {}),
    ...(options.journal !== undefined ? { journal: resolve(io.cwd, options.journal) } : {}),
    ...(options.journal !== undefined && key !== undefined ? { journalKey: key } : {}),
  });
}
