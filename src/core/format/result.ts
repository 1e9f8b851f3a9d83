import type { ApplyResult } from '../target.js';
import { cappedTable, code, details, MARKDOWN_LIST_ROWS } from './markdown.js';
import { groupedRequests } from './request-groups.js';
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
    const grouped = groupedRequests(result.outcomes);
    if (grouped.length > 0) out.push('', ...grouped);
  }
  out.push('', totalsLine(result));
  out.push(
    `${result.dryRun ? 'Would reclaim' : 'Reclaimable now'}: ${formatBytes(result.reclaimableBytes)}`,
  );
  for (const note of result.notes) out.push(`Note: ${note}`);
  return `${shortDigests(out.join('\n'))}\n`;
}

/**
 * An apply result as Markdown for a CI job summary: totals, then the operations that were skipped
 * or failed (they need a person) and the rest, each collapsed and capped at `maxRows` (default
 * 100; the JSON result has every outcome).
 */
export function resultMarkdown(result: ApplyResult, options: { maxRows?: number } = {}): string {
  const max = options.maxRows ?? MARKDOWN_LIST_ROWS;
  const full = 'the full list is in `regprune apply … --format json`';
  const out: string[] = ['', `### ${result.dryRun ? 'Dry run' : 'Result'}`, '', totalsLine(result)];
  out.push(
    '',
    `${result.dryRun ? 'Would reclaim' : 'Reclaimable now'}: ${formatBytes(result.reclaimableBytes)}`,
    '',
  );
  const row = (o: ApplyResult['outcomes'][number]) => [
    o.action,
    code(o.id),
    o.status,
    o.reason ?? '',
  ];
  const header = ['action', 'id', 'status', 'note'];
  const trouble = result.outcomes.filter((o) => o.status === 'skipped' || o.status === 'failed');
  const rest = result.outcomes.filter((o) => o.status !== 'skipped' && o.status !== 'failed');
  if (trouble.length > 0) {
    out.push(
      details(
        `Skipped or failed (${trouble.length})`,
        cappedTable(header, trouble, max, row, full),
      ),
      '',
    );
  }
  if (rest.length > 0) {
    const title = result.dryRun ? 'Planned' : 'Done';
    out.push(details(`${title} (${rest.length})`, cappedTable(header, rest, max, row, full)));
  }
  for (const note of result.notes) out.push('', `> ${note}`);
  return `${out.join('\n')}\n`;
}
