const UNIT_MS = {
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
} as const;

const DURATION = /^(?:\d+[smhdw])+$/;
const PART = /(\d+)([smhdw])/g;

/**
 * Parses a duration such as `30d`, `12h` or `1w3d` (units: s, m = minutes, h, d, w) into
 * milliseconds. Returns a problem text instead when the value is not a positive duration.
 */
export function parseDuration(text: string): number | { problem: string } {
  if (!DURATION.test(text)) {
    return {
      problem: `must be a duration such as "30d" (units s, m = minutes, h, d, w; e.g. "1w3d"), got ${JSON.stringify(text)}`,
    };
  }
  let ms = 0;
  for (const [, count, unit] of text.matchAll(PART)) {
    ms += Number(count) * UNIT_MS[unit as keyof typeof UNIT_MS];
  }
  if (!Number.isSafeInteger(ms) || ms <= 0) {
    return { problem: `must be a positive duration, got ${JSON.stringify(text)}` };
  }
  return ms;
}
