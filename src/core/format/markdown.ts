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
