import { listTable, plural, shortDigests } from '../core/format/text.js';
import type { VerifyReport } from './verify.js';

/** The one-line verdict of a {@link VerifyReport}. */
export function verifySummary(report: VerifyReport): string {
  const what = `${plural(report.tags.length, 'tag')}, ${plural(report.checked.manifests, 'manifest')}, ${plural(report.checked.blobs, 'blob')}`;
  if (report.problems.length === 0) return `OK: every tag pulls completely (${what} checked)`;
  const broken = new Set(report.problems.map((p) => p.tag)).size;
  return `BROKEN: ${plural(broken, 'tag')} of ${report.tags.length} do not pull completely (${plural(report.problems.length, 'problem')}; ${what} checked)`;
}

/** A verify report for a terminal: every problem with the tag it breaks, then the verdict. */
export function verifyTable(report: VerifyReport): string {
  const out = [`Verify ${report.registry}`, '', `Problems (${report.problems.length})`];
  out.push(
    listTable(
      ['TAG', 'PROBLEM', 'MISSING', 'DETAIL'],
      report.problems.map((p) => [p.tag, p.kind, p.id, p.message]),
    ),
  );
  if (report.opaque.length > 0) {
    out.push('', `Not followed (media type regprune cannot read): ${report.opaque.join(', ')}`);
  }
  out.push('', verifySummary(report));
  return `${shortDigests(out.join('\n'))}\n`;
}

/** A verify report as GitHub-flavoured Markdown (whole digests), for CI job summaries. */
export function verifyMarkdown(report: VerifyReport): string {
  const out = [`### regprune verify ${report.registry}`, '', verifySummary(report), ''];
  if (report.problems.length > 0) {
    out.push('| Tag | Problem | Missing | Detail |', '| --- | --- | --- | --- |');
    const cell = (text: string) => text.replaceAll('|', '\\|');
    for (const p of report.problems) {
      out.push(`| \`${p.tag}\` | ${p.kind} | \`${p.id}\` | ${cell(p.message)} |`);
    }
    out.push('');
  }
  return `${out.join('\n')}\n`;
}
