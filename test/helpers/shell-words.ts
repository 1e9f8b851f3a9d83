/**
 * Enough of POSIX shell word splitting to read the `regprune …` command lines of the CI examples:
 * single and double quotes, `$VAR` / `${VAR}` expansion (unquoted empty expansions vanish), and
 * the end of the simple command at a redirection, pipe, `;`, `&&` or `||`. Not a shell: anything
 * else (command substitution, globbing) throws, so an example cannot silently drift out of reach.
 */
export function shellWords(line: string, env: Record<string, string>): string[] {
  const words: string[] = [];
  let word = '';
  let quotedOrText = false;
  let i = 0;
  const expand = (): string => {
    const braced = /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}/.exec(line.slice(i));
    const plain = /^\$([A-Za-z_][A-Za-z0-9_]*)/.exec(line.slice(i));
    const match = braced ?? plain;
    if (!match) throw new Error(`unsupported $ at ${i} in: ${line}`);
    i += match[0].length;
    const name = match[1] as string;
    const value = env[name];
    if (value === undefined) throw new Error(`${name} is not set for: ${line}`);
    return value;
  };
  const finish = () => {
    if (quotedOrText) words.push(word);
    word = '';
    quotedOrText = false;
  };
  while (i < line.length) {
    const c = line[i] as string;
    if (c === ' ' || c === '\t') {
      finish();
      i++;
    } else if (c === '>' || c === '<' || c === '|' || c === ';' || c === '&' || c === '#') {
      break;
    } else if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new Error(`unclosed ' in: ${line}`);
      word += line.slice(i + 1, end);
      quotedOrText = true;
      i = end + 1;
    } else if (c === '"') {
      i++;
      quotedOrText = true;
      while (i < line.length && line[i] !== '"') {
        if (line[i] === '$') word += expand();
        else if (line[i] === '`') throw new Error(`command substitution in: ${line}`);
        else word += line[i++];
      }
      if (line[i] !== '"') throw new Error(`unclosed " in: ${line}`);
      i++;
    } else if (c === '$') {
      const value = expand();
      word += value;
      if (value !== '') quotedOrText = true;
    } else if (c === '`' || c === '*' || c === '?') {
      throw new Error(`unsupported ${c} in: ${line}`);
    } else {
      word += c;
      quotedOrText = true;
      i++;
    }
  }
  finish();
  // "2>" leaves a trailing "2" word; the examples do not use it.
  return words;
}
