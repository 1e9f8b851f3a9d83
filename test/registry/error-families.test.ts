import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, expectTypeOf, it } from 'vitest';
import * as core from '../../src/core/errors/index.js';
import * as layoutErrors from '../../src/layout/errors/index.js';
import * as layout from '../../src/layout/index.js';
import * as registryErrors from '../../src/registry/errors/index.js';
import * as registry from '../../src/registry/index.js';
import { type FakeRegistry, startFakeRegistry } from '../helpers/fake-registry.js';

const {
  AuthError,
  RateLimitError,
  RegistryClient,
  RegistryHttpError,
  RegistryResponseError,
  REGISTRY_ERROR_CODES,
} = registry;

/** Every `export class X extends …Error` defined under `dir`, by file. */
function errorClassesUnder(dir: string): string[] {
  const names: string[] = [];
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.ts')) continue;
    const text = readFileSync(join(entry.parentPath, entry.name), 'utf8');
    for (const m of text.matchAll(/export (?:abstract )?class (\w+) extends (\w+Error)\b/g))
      names.push(m[1] as string);
  }
  return names.sort();
}

describe('errors as families: every error class of a layer is exported from its errors/index.ts', () => {
  it.each([
    ['core', 'src/core', core],
    ['registry', 'src/registry', registryErrors],
    ['layout', 'src/layout', layoutErrors],
  ] as const)('%s', (_layer, dir, index) => {
    const defined = errorClassesUnder(dir);
    expect(defined.length).toBeGreaterThan(0);
    const missing = defined.filter((name) => !(name in index));
    expect(missing).toEqual([]);
  });

  it('the registry and layout entry points export their whole errors index', () => {
    for (const name of Object.keys(registryErrors)) expect(registry).toHaveProperty(name);
    for (const name of Object.keys(layoutErrors)) expect(layout).toHaveProperty(name);
  });

  it.each([
    ['core', 'src/core', core.CORE_ERROR_CODES as readonly string[]],
    ['registry', 'src/registry', registryErrors.REGISTRY_ERROR_CODES as readonly string[]],
    ['layout', 'src/layout', layoutErrors.LAYOUT_ERROR_CODES as readonly string[]],
  ] as const)(
    '%s: the code list is exactly the codes its error classes declare',
    (_layer, dir, codes) => {
      const declared = new Set<string>();
      for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
        if (!entry.isFile() || !entry.name.endsWith('.ts')) continue;
        const text = readFileSync(join(entry.parentPath, entry.name), 'utf8');
        for (const m of text.matchAll(/declare readonly code: ([^;]+);/g))
          for (const literal of (m[1] as string).matchAll(/'([A-Z_]+)'/g))
            declared.add(literal[1] as string);
      }
      // The core's plan errors are passed on by both adapters; loadGraph passes on glob errors.
      const passedOn =
        dir === 'src/core'
          ? []
          : ['INVALID_PLAN', 'PLAN_MISMATCH', 'PLAN_REFUSED'].concat(
              dir === 'src/registry' ? ['INVALID_GLOB'] : [],
            );
      expect([...codes].sort()).toEqual([...declared, ...passedOn].sort());
      expect(new Set(codes).size).toBe(codes.length);
    },
  );
});

describe("every code an error class is built with is in its layer's list", () => {
  it.each([
    ['core', 'src/core', core.CORE_ERROR_CODES as readonly string[]],
    ['registry', 'src/registry', registryErrors.REGISTRY_ERROR_CODES as readonly string[]],
    ['layout', 'src/layout', layoutErrors.LAYOUT_ERROR_CODES as readonly string[]],
  ] as const)('%s', (_layer, dir, codes) => {
    const used: string[] = [];
    for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
      if (!entry.isFile() || !entry.name.endsWith('.ts')) continue;
      const text = readFileSync(join(entry.parentPath, entry.name), 'utf8');
      if (!/class \w+ extends \w+Error\b/.test(text)) continue;
      for (const m of text.matchAll(/super\(\s*'([A-Z_]+)'/g)) used.push(m[1] as string);
    }
    expect(used.length).toBeGreaterThan(0);
    expect(used.filter((code) => !codes.includes(code))).toEqual([]);
  });
});

describe('each error class types its code as a literal of its layer', () => {
  it('checked by the type checker', () => {
    expectTypeOf<InstanceType<typeof AuthError>['code']>().toEqualTypeOf<'AUTH'>();
    expectTypeOf<InstanceType<typeof RateLimitError>['code']>().toEqualTypeOf<'RATE_LIMITED'>();
    expectTypeOf<
      InstanceType<typeof registry.StorageRootError>['code']
    >().toEqualTypeOf<'NOT_A_REGISTRY_ROOT'>();
    expectTypeOf<InstanceType<typeof core.InvalidEdgeError>['code']>().toEqualTypeOf<
      'SELF_EDGE' | 'CYCLE'
    >();
    expectTypeOf<
      InstanceType<typeof layout.InvalidLayoutError>['code']
    >().toExtend<layoutErrors.LayoutErrorCode>();
    expectTypeOf<
      InstanceType<typeof registry.InventoryError>['code']
    >().toExtend<registry.RegistryErrorCode>();
    expectTypeOf<
      InstanceType<typeof core.UnknownTagError>['code']
    >().toExtend<core.CoreErrorCode>();
  });
});

describe('registry response errors carry status and retryable (fake registry: statuses on demand)', () => {
  let fake: FakeRegistry;
  beforeEach(async () => {
    fake = await startFakeRegistry();
  });
  afterEach(async () => {
    await fake.stop();
  });

  it('429 after the retries: a retryable RegistryHttpError with code REGISTRY_HTTP, as before (RateLimitError is for platform API limits)', async () => {
    fake.hook = (_req, res) => {
      res.writeHead(429, { 'retry-after': '0' }).end();
      return true;
    };
    const client = new RegistryClient({ url: fake.url, retry: { limit: 1, baseDelay: 1 } });
    const error = await client.listTags('app').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RegistryHttpError);
    expect(error).toBeInstanceOf(RegistryResponseError);
    expect(error).not.toBeInstanceOf(RateLimitError);
    expect(error).toMatchObject({ code: 'REGISTRY_HTTP', status: 429, retryable: true });
    expect(REGISTRY_ERROR_CODES).toContain((error as { code: string }).code);
  });

  it('429 asking for a wait over maxDelay: RegistryHttpError at once, naming the wait', async () => {
    fake.hook = (_req, res) => {
      res.writeHead(429, { 'retry-after': '3600' }).end();
      return true;
    };
    const client = new RegistryClient({ url: fake.url, retry: { limit: 5, maxDelay: 1000 } });
    const error = await client.listTags('app').catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 429, retryable: true });
    expect((error as Error).message).toMatch(/Retry-After asks for 3600 s, over the 1 s limit/);
    expect(fake.log).toHaveLength(1);
  });

  it('RateLimitError (platform API limits) is a retryable RegistryResponseError with code RATE_LIMITED', () => {
    const error = new RateLimitError('https://api.github.com/x', 'secondary limit', undefined, 403);
    expect(error).toBeInstanceOf(RegistryResponseError);
    expect(error).toMatchObject({ code: 'RATE_LIMITED', status: 403, retryable: true });
  });

  it('503 after the retries: a retryable RegistryHttpError, not a RateLimitError', async () => {
    fake.hook = (_req, res) => {
      res.writeHead(503).end();
      return true;
    };
    const client = new RegistryClient({ url: fake.url, retry: { limit: 0 } });
    const error = await client.listTags('app').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RegistryHttpError);
    expect(error).not.toBeInstanceOf(RateLimitError);
    expect(error).toMatchObject({ status: 503, retryable: true });
  });

  it('400: a RegistryHttpError that is not retryable', async () => {
    fake.hook = (_req, res) => {
      res.writeHead(400).end();
      return true;
    };
    const error = await new RegistryClient({ url: fake.url }).listTags('app').catch((e) => e);
    expect(error).toBeInstanceOf(RegistryResponseError);
    expect(error).toMatchObject({ code: 'REGISTRY_HTTP', status: 400, retryable: false });
  });

  it('403: an AuthError, a RegistryResponseError that is not retryable', async () => {
    fake.hook = (_req, res) => {
      res.writeHead(403).end();
      return true;
    };
    const error = await new RegistryClient({ url: fake.url }).listTags('app').catch((e) => e);
    expect(error).toBeInstanceOf(AuthError);
    expect(error).toBeInstanceOf(RegistryResponseError);
    expect(error).toMatchObject({ code: 'AUTH', status: 403, retryable: false });
  });
});
