import type { ImageGraph } from '../image-graph.js';
import { formatKeepPath } from '../plan.js';
import type { CleanupPlan } from '../plan-types.js';
import { describeImage } from './describe.js';
import { decisionsWithFates } from './fates.js';
import { code, details, mdTable } from './markdown.js';
import type { PlanHeader } from './plan-table.js';
import { formatBytes, plural, shortDigests } from './text.js';

/**
 * The plan as Markdown for a CI job summary (`>> "$GITHUB_STEP_SUMMARY"`): a summary table, the
 * refusal and warnings up front, the untag and delete lists, and the kept images and tag
 * decisions in collapsed sections. Ids are whole; keep paths use 12-digit digests to stay short.
 */
export function planMarkdown(plan: CleanupPlan, header: PlanHeader, graph?: ImageGraph): string {
  const s = plan.summary;
  const out: string[] = [];
  out.push(`## regprune plan for ${code(header.target)}`, '', `Basis: ${header.basis}`, '');
  out.push(
    mdTable(
      ['', 'count'],
      [
        ['images', String(s.images)],
        ['kept images', String(s.keptImages)],
        ['deleted images', String(s.deletedImages)],
        ['tags', String(s.tags)],
        ['tags removed (image stays)', String(s.untaggedTags)],
        ['tags deleted with their image', String(s.deletedTags)],
        [
          'reclaimable',
          `${formatBytes(plan.reclaimableBytes)} in ${plural(plan.blobs.length, 'blob')}`,
        ],
      ],
    ),
  );
  if (plan.refused) {
    out.push(
      '',
      '> [!CAUTION]',
      `> **Refused by a safety cap:** ${plan.refused.reason}. Nothing will be applied.`,
    );
  }
  if (plan.warnings.length > 0) {
    out.push('', `### Warnings (${plan.warnings.length})`, '');
    out.push(
      mdTable(
        ['code', 'id', 'message'],
        plan.warnings.map((w) => [w.code, code(w.id), w.message]),
      ),
    );
  }
  out.push('', `### Delete (${plural(plan.delete.length, 'image')})`, '');
  out.push(
    plan.delete.length === 0
      ? 'Nothing to delete.'
      : mdTable(
          ['wave', 'image', 'type', 'tags'],
          plan.delete.map((op) => [
            String(op.wave),
            code(op.image),
            describeImage(graph, op.image, op.mediaType),
            op.tags.map(code).join(', ') || '—',
          ]),
        ),
  );
  out.push('', `### Untag (${plural(plan.untag.length, 'tag')}; their images stay)`, '');
  out.push(
    plan.untag.length === 0
      ? 'Nothing to untag.'
      : mdTable(
          ['tag', 'image'],
          plan.untag.map((op) => [code(op.tag), code(op.image)]),
        ),
  );
  out.push('', `### Kept images (${plan.keep.length})`, '');
  out.push(
    details(
      `Why each of the ${plural(plan.keep.length, 'image')} stays`,
      plan.keep.length === 0
        ? 'None.'
        : mdTable(
            ['image', 'type', 'reason'],
            plan.keep.map((e) => [
              code(e.image),
              describeImage(graph, e.image),
              shortDigests(formatKeepPath(e)),
            ]),
          ),
    ),
  );
  const decisions = decisionsWithFates(plan);
  if (decisions.length > 0) {
    out.push('', `### Tag decisions (${decisions.length})`, '');
    out.push(
      details(
        'Every tag, kept or not, and why',
        mdTable(
          ['tag', 'fate', 'why'],
          decisions.map((d) => [code(d.tag), d.fate, d.reason]),
        ),
      ),
    );
  }
  return `${out.join('\n')}\n`;
}
