import { resultMarkdown, resultTable } from '../../core/format/result.js';
import { plural } from '../../core/format/text.js';
import type { CleanupPlan } from '../../core/plan-types.js';
import { type CleanupTarget, NOT_ATTEMPTED_STOPPED } from '../../core/target.js';
import { verifyMarkdown, verifySummary, verifyTable } from '../../registry/format-verify.js';
import type { PlanningOptions } from '../args.js';
import { NotConfirmedError, UsageError } from '../errors.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import { type CliIo, readLine } from '../io.js';
import { makeRequiredPlan } from '../make-plan.js';
import { openTarget } from '../open-target.js';
import { createProgress } from '../progress.js';
import { formatPlan, refusedMessage } from './format-plan.js';

/** `regprune ARGS` as a POSIX shell reads it back. */
function commandText(argv: readonly string[]): string {
  const quote = (word: string) =>
    /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
  return ['regprune', ...argv].map(quote).join(' ');
}

/** Refuses up front (before any network) when nobody can be asked and `--yes` is missing. */
function checkConfirmable(options: PlanningOptions, io: CliIo): void {
  if (options.yes || options.dryRun) return;
  if (options.passwordStdin) {
    throw new UsageError(
      'apply',
      '--yes',
      'missing: standard input carries the password (--password-stdin), so regprune cannot ask for confirmation; pass --yes to apply, or --dry-run to look first',
    );
  }
  if (!io.stdinIsTTY) {
    throw new UsageError(
      'apply',
      '--yes',
      'missing: standard input is not a terminal, so regprune cannot ask for confirmation; pass --yes to apply, or --dry-run to look first',
    );
  }
}

/**
 * `regprune apply`: plans, prints the plan, asks (on a terminal, unless `--yes`), applies, prints
 * the result. Exit 3 for a refused plan (nothing applied), 4 when some operations failed or were
 * skipped.
 */
export async function applyCommand(options: PlanningOptions, io: CliIo): Promise<ExitCode> {
  checkConfirmable(options, io);
  const progress = createProgress(io);
  const target = await openTarget(options, io);
  const { graph, plan, basis } = await makeRequiredPlan(options, target, io, progress);
  const header = { target: target.description, basis };
  const json = options.format === 'json';
  if (!json) io.stdout(formatPlan(options.format, plan, header, graph));
  if (plan.refused) {
    if (json) io.stdout(`${JSON.stringify({ plan, result: null }, null, 2)}\n`);
    io.stderr(refusedMessage(plan));
    return EXIT.refused;
  }
  const work = plan.untag.length + plan.delete.length;
  if (work > 0 && !options.yes && !options.dryRun) {
    io.stderr(
      `Apply this plan to ${target.description}: delete ${plural(plan.delete.length, 'image')}, untag ${plural(plan.untag.length, 'tag')}? [y/N] `,
    );
    const answer = (await readLine(io))?.trim().toLowerCase();
    if (answer !== 'y' && answer !== 'yes') throw new NotConfirmedError();
  }
  // Ctrl-C once: start nothing new, let what is in flight finish, report, exit 130. Twice: now.
  const stop = new AbortController();
  const unsubscribe = options.dryRun
    ? () => {}
    : (io.onInterrupt?.(() => {
        if (stop.signal.aborted) {
          io.stderr(
            `\ninterrupted again: exiting now${options.journal !== undefined ? `; the undo journal ${options.journal} is consistent, run the same command again to continue` : ''}\n`,
          );
          io.exitNow?.(EXIT.interrupted);
          return;
        }
        stop.abort();
        io.stderr(
          '\nstopping: no new operation starts; waiting for those in flight to finish (Ctrl-C again exits at once)\n',
        );
      }) ?? (() => {}));
  try {
    return await applyAndReport(options, io, target, plan, stop.signal, progress);
  } finally {
    unsubscribe();
  }
}

async function applyAndReport(
  options: PlanningOptions,
  io: CliIo,
  target: CleanupTarget,
  plan: CleanupPlan,
  stop: AbortSignal,
  progress: ReturnType<typeof createProgress>,
): Promise<ExitCode> {
  const json = options.format === 'json';
  const result = await target.applyPlan(plan, {
    dryRun: options.dryRun,
    onProgress: (event) => progress.apply(event),
    stop,
  });
  progress.end();
  const verified =
    options.verify && !result.dryRun && !result.stopped && target.verify
      ? await target.verify(plan.keptTags)
      : undefined;
  if (json) {
    io.stdout(
      `${JSON.stringify({ plan, result, ...(verified ? { verify: verified } : {}) }, null, 2)}\n`,
    );
  } else if (options.format === 'markdown') {
    io.stdout(resultMarkdown(result));
    if (verified) io.stdout(`\n${verifyMarkdown(verified)}`);
  } else {
    io.stdout(resultTable(result));
    if (verified) io.stdout(`\n${verifyTable(verified)}`);
  }
  if (verified && verified.problems.length > 0) {
    io.stderr(
      `error: after applying, ${verifySummary(verified)}; run \`regprune verify\` for details, and \`regprune restore --journal\` if a journal was kept\n`,
    );
    return EXIT.error;
  }
  if (result.stopped && stop.aborted) {
    const left = result.outcomes.filter((o) => o.reason === NOT_ATTEMPTED_STOPPED).length;
    io.stderr(
      `stopped by Ctrl-C: ${plural(left, 'operation')} not started${options.journal !== undefined ? `; the undo journal ${options.journal} records what was done` : ''}. To continue, run the same command again:\n  ${commandText(io.commandLine ?? [])}\n`,
    );
    return EXIT.interrupted;
  }
  const { failed, skipped } = result.totals;
  if (result.stopped) {
    // Stopped by itself: the registry died. Say so, and how to go on, before the totals.
    for (const note of result.notes.filter((n) => n.startsWith('not attempted:'))) {
      io.stderr(`error: ${note}\n  ${commandText(io.commandLine ?? [])}\n`);
    }
  }
  if (!result.dryRun && failed + skipped > 0) {
    io.stderr(
      `error: partly applied: ${failed} failed, ${skipped} skipped (see the result for why); plan again to review what is left\n`,
    );
    return EXIT.partial;
  }
  return EXIT.ok;
}
