/** Markdown helpers: GitHub-flavoured tables that survive any cell content. */

/** A cell's text with pipes and line breaks escaped. */
export function cell(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

/** `text` as inline code (backticks inside are not expected in ids; they are dropped). */
export function code(text: string): string {
  return `\`${text.replace(/`/g, '')}\``;
}

/** A GitHub-flavoured Markdown table; cells are escaped here. */
export function mdTable(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.map(cell).join(' | ')} |`;
  return [line(header), `|${header.map(() => ' --- ').join('|')}|`, ...rows.map(line)].join('\n');
}

/** A collapsed section (GitHub renders `<details>`), so long lists do not drown the summary. */
export function details(summary: string, body: string): string {
  return `<details><summary>${summary}</summary>\n\n${body}\n\n</details>`;
}

/** Rows shown per list in Markdown summaries by default; the JSON output has them all. */
export const MARKDOWN_LIST_ROWS = 100;

/**
 * A table of the first `max` items, then `… and N more (fullList)`: CI summaries have a size limit
 * (GitHub: 1 MiB per step), so no list may grow with the registry. Only the rows shown are built.
 */
export function cappedTable<T>(
  header: string[],
  items: readonly T[],
  max: number,
  row: (item: T) => string[],
  fullList: string,
): string {
  const rows = items.slice(0, max).map(row);
  const more = items.length - rows.length;
  const table = mdTable(header, rows);
  return more > 0 ? `${table}\n\n… and ${more} more (${fullList})` : table;
}
