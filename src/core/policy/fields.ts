/** Readers of a policy's JSON values: each names the path of what is wrong in an InvalidPolicyError. */
import { InvalidPolicyError } from '../errors/invalid-policy-error.js';
import { parseDuration } from './duration.js';
import type { Matcher } from './patterns.js';

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return typeof value;
}

export function fail(path: string, problem: string): never {
  throw new InvalidPolicyError(path, problem);
}

export function object(
  value: unknown,
  path: string,
  keys: readonly string[],
): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail(path, `must be an object, got ${describe(value)}`);
  }
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (!keys.includes(key)) {
      fail(
        path === 'policy' ? key : `${path}.${key}`,
        `unknown key; allowed here: ${keys.join(', ')}`,
      );
    }
  }
  return record;
}

export function at(path: string, key: string): string {
  return path === 'policy' ? key : `${path}.${key}`;
}

export function string(value: unknown, path: string): string {
  if (typeof value !== 'string') {
    const hint = typeof value === 'number' ? ' (quote it in YAML)' : '';
    fail(path, `must be a string, got ${describe(value)}${hint}`);
  }
  return value;
}

export function stringList(value: unknown, path: string, allowEmpty: boolean): string[] {
  if (!Array.isArray(value)) fail(path, `must be a list of strings, got ${describe(value)}`);
  if (!allowEmpty && value.length === 0)
    fail(path, 'must not be empty (leave the key out instead)');
  return value.map((item, i) => string(item, `${path}[${i}]`));
}

export function matchers(
  list: string[],
  path: string,
  compile: (text: string) => Matcher | { problem: string },
): Matcher[] {
  return list.map((text, i) => {
    const compiled = compile(text);
    if ('problem' in compiled) fail(`${path}[${i}]`, compiled.problem);
    return compiled;
  });
}

export function duration(value: unknown, path: string): { text: string; ms: number } {
  const text = string(value, path);
  const ms = parseDuration(text);
  if (typeof ms !== 'number') fail(path, ms.problem);
  return { text, ms };
}
