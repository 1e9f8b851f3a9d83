import type { ApplyResult } from '../target.js';
import { code, mdTable } from './markdown.js';
import { formatBytes, listTable, shortDigests } from './text.js';

function totalsLine(result: ApplyResult): string {
  const t = result.totals;
  return result.dryRun
    ? `Dry run: ${t.planned} planned, ${t.skipped} skipped, ${t.failed} failed — nothing was changed`
    : `Applied: ${t.done} done, ${t.skipped} skipped, ${t.failed} failed`;
}

/** An apply result for a terminal: every operation with its status and reason, totals, notes. */
export function resultTable(result: ApplyResult): string {
  const out: string[] = ['', result.dryRun ? 'Dry run' : 'Result'];
  out.push(
    listTable(
      ['ACTION', 'ID', 'STATUS', 'NOTE'],
      result.outcomes.map((o) => [o.action, o.id, o.status, o.reason ?? '']),
      '(nothing to do)',
    ),
  );
  if (result.dryRun) {
    const requests = result.outcomes.flatMap((o) => o.requests ?? []);
    if (requests.length > 0) {
      out.push('', 'Requests it would send');
      for (const request of requests) out.push(`  ${request}`);
    }
  }
  out.push('', totalsLine(result));
  out.push(
    `${result.dryRun ? 'Would reclaim' : 'Reclaimable now'}: ${formatBytes(result.reclaimableBytes)}`,
  );
  for (const note of result.notes) out.push(`Note: ${note}`);
  return `${shortDigests(out.join('\n'))}\n`;
}

/** An apply result as Markdown for a CI job summary. */
export function resultMarkdown(result: ApplyResult): string {
  const out: string[] = ['', `### ${result.dryRun ? 'Dry run' : 'Result'}`, '', totalsLine(result)];
  out.push(
    '',
    `${result.dryRun ? 'Would reclaim' : 'Reclaimable now'}: ${formatBytes(result.reclaimableBytes)}`,
    '',
  );
  if (result.outcomes.length > 0) {
    out.push(
      mdTable(
        ['action', 'id', 'status', 'note'],
        result.outcomes.map((o) => [o.action, code(o.id), o.status, o.reason ?? '']),
      ),
    );
  }
  for (const note of result.notes) out.push('', `> ${note}`);
  return `${out.join('\n')}\n`;
}
