/**
 * The `rel="next"` target of a `Link` header (RFC 8288), resolved against `base`, or undefined.
 * Registries send relative (`</v2/_catalog?last=x&n=100>`) and absolute targets.
 */
export function nextLink(header: string | null, base: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(/,(?=\s*<)/)) {
    const match = /^\s*<([^>]*)>(.*)$/.exec(part);
    if (!match) continue;
    const params = (match[2] as string).split(';').map((p) => p.trim().toLowerCase());
    if (params.some((p) => /^rel\s*=\s*"?([^"]*)"?$/.exec(p)?.[1]?.split(/\s+/).includes('next'))) {
      return new URL(match[1] as string, base).toString();
    }
  }
  return undefined;
}
