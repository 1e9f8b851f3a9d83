import { deletionReasons, shortDeletionReason } from '../deletion-reasons.js';
import type { ImageGraph } from '../image-graph.js';
import { formatKeepPath } from '../plan.js';
import type { CleanupPlan } from '../plan-types.js';
import { reclaimableTotal } from '../reclaimable.js';
import { naturalSorted, untagsInNaturalOrder } from '../sort.js';
import { describeImage } from './describe.js';
import { decisionsWithFates } from './fates.js';
import { cappedTable, code, details, MARKDOWN_LIST_ROWS, mdTable } from './markdown.js';
import { type PlanHeader, reclaimableWords } from './plan-table.js';
import { plural, shortDigests } from './text.js';

/** Options of {@link planMarkdown}. */
export interface PlanMarkdownOptions {
  /**
   * Rows shown per list (warnings, delete, untag, kept images, tag decisions) before `… and N
   * more`. Default 100, which keeps a summary of any registry far below GitHub's 1 MiB step
   * summary limit; the JSON plan has every entry.
   */
  maxRows?: number;
}

const FULL_LIST = 'the full list is in `regprune plan … --format json`';

function capped<T>(header: string[], items: readonly T[], max: number, row: (item: T) => string[]) {
  return cappedTable(header, items, max, row, FULL_LIST);
}

/**
 * The plan as Markdown for a CI job summary (`>> "$GITHUB_STEP_SUMMARY"`): a summary table, the
 * refusal and warnings up front, the repositories with the most deletions, then the delete,
 * untag, kept-image and tag-decision lists, each collapsed and capped (see
 * {@link PlanMarkdownOptions.maxRows}). Ids are whole; keep paths use 12-digit digests.
 */
export function planMarkdown(
  plan: CleanupPlan,
  header: PlanHeader,
  graph?: ImageGraph,
  options: PlanMarkdownOptions = {},
): string {
  const max = options.maxRows ?? MARKDOWN_LIST_ROWS;
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
        ['reclaimable', reclaimableWords(reclaimableTotal(plan, graph))],
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
      capped(['code', 'id', 'message'], plan.warnings, max, (w) => [w.code, code(w.id), w.message]),
    );
  }
  const perRepository = topRepositories(plan);
  if (perRepository.length > 1) {
    out.push('', '### Repositories with the most deletions', '');
    out.push(
      mdTable(
        ['repository', 'images deleted'],
        perRepository.map(([r, n]) => [code(r), String(n)]),
      ),
    );
  }
  out.push('', `### Delete (${plural(plan.delete.length, 'image')})`, '');
  const why = graph ? deletionReasons(plan, graph) : undefined;
  out.push(
    plan.delete.length === 0
      ? 'Nothing to delete.'
      : details(
          `${plural(plan.delete.length, 'image')}, dependents first`,
          capped(
            ['wave', 'image', 'type', 'tags', ...(why ? ['why'] : [])],
            plan.delete,
            max,
            (op) => {
              const reason = why?.get(op.image);
              return [
                String(op.wave),
                code(op.image),
                describeImage(graph, op.image, op.mediaType),
                naturalSorted(op.tags).map(code).join(', ') || '—',
                ...(reason ? [shortDeletionReason(reason, code)] : []),
              ];
            },
          ),
        ),
  );
  const dangling = plan.danglingTags ?? [];
  if (dangling.length > 0) {
    out.push(
      '',
      `### Dangling tags (${dangling.length}; listed, pointing at nothing; apply removes them)`,
      '',
    );
    out.push(
      details(
        plural(dangling.length, 'tag'),
        capped(['tag'], dangling, max, (t) => [code(t)]),
      ),
    );
  }
  out.push('', `### Untag (${plural(plan.untag.length, 'tag')}; their images stay)`, '');
  out.push(
    plan.untag.length === 0
      ? 'Nothing to untag.'
      : details(
          plural(plan.untag.length, 'tag'),
          capped(['tag', 'image'], untagsInNaturalOrder(plan.untag), max, (op) => [
            code(op.tag),
            code(op.image),
          ]),
        ),
  );
  out.push('', `### Kept images (${plan.keep.length})`, '');
  out.push(
    details(
      `Why each of the ${plural(plan.keep.length, 'image')} stays`,
      plan.keep.length === 0
        ? 'None.'
        : capped(['image', 'type', 'reason'], plan.keep, max, (e) => [
            code(e.image),
            describeImage(graph, e.image),
            shortDigests(formatKeepPath(e)),
          ]),
    ),
  );
  const decisions = decisionsWithFates(plan);
  if (decisions.length > 0) {
    out.push('', `### Tag decisions (${decisions.length})`, '');
    out.push(
      details(
        'Every tag, kept or not, and why',
        capped(['tag', 'fate', 'why'], decisions, max, (d) => [code(d.tag), d.fate, d.reason]),
      ),
    );
  }
  return `${out.join('\n')}\n`;
}

/** The ten repositories losing the most images (registry ids `repo@digest`), most first. */
function topRepositories(plan: CleanupPlan): Array<[string, number]> {
  const counts = new Map<string, number>();
  for (const op of plan.delete) {
    const at = op.image.lastIndexOf('@');
    const repository = at > 0 ? op.image.slice(0, at) : '(layout)';
    counts.set(repository, (counts.get(repository) ?? 0) + 1);
  }
  return [...counts]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .slice(0, 10);
}
