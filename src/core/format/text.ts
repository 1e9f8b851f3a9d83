/** Small text helpers shared by the output formats. */

const UNITS = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** Bytes in binary units: `512 B`, `1.5 KiB`, `3.2 GiB`. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  let value = bytes;
  let unit = -1;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${UNITS[unit]}`;
}

/** `1 image`, `2 images`. */
export function plural(count: number, word: string, many = `${word}s`): string {
  return `${count} ${count === 1 ? word : many}`;
}

const LONG_DIGEST = /\b(sha256:[0-9a-f]{12})[0-9a-f]{52}\b/g;

/** Shortens every sha256 digest in `text` to its first 12 hex digits (as `docker images` does). */
export function shortDigests(text: string): string {
  return text.replace(LONG_DIGEST, '$1');
}

/**
 * Left-aligned columns with a header row; the last column is not padded. Digests in cells are
 * shortened first (see {@link shortDigests}), so columns are as wide as what is shown.
 */
export function textTable(header: string[], input: string[][], indent = '  '): string {
  const rows = input.map((row) => row.map(shortDigests));
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    indent +
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/** {@link textTable}, or one indented line saying there is nothing (`(none)`) when `rows` is empty. */
export function listTable(header: string[], rows: string[][], empty = '(none)'): string {
  return rows.length === 0 ? `  ${empty}` : textTable(header, rows);
}
