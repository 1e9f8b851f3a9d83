// Over 400 lines: one fake of GitHub's Packages REST API (endpoints, pagination, rate limits,
// scopes, refusals, restore) and its ghcr-like /v2 front; the endpoints share the version store.
/**
 * A FAKE of GitHub's Container Registry for tests without the internet, built from GitHub's REST
 * documentation ("REST API endpoints for packages", "Rate limits for the REST API", "Deleting and
 * restoring a package") on top of a REAL `docker-registry`:
 *
 * - `/v2/…` is the real registry behind a token flow like ghcr.io's (Bearer challenge, a token
 *   service at `/token` that takes Basic `user:<GitHub token>`), except that an OCI manifest
 *   DELETE answers 405 UNSUPPORTED, as ghcr.io does.
 * - `/api/v3/…` serves the Packages endpoints regprune uses (`/users/{u}`, `/user`,
 *   `/{orgs/{org}|users/{u}|user}/packages[/container/{name}/versions[/{id}[/restore]]]`), with
 *   versions read from the registry's storage folder (every manifest revision and its tags; a
 *   revision's mtime is its `created_at`), `per_page`/`page` with `Link` headers, `x-ratelimit-*`
 *   headers, primary and secondary limits, token scopes (`x-oauth-scopes`), the 5,000-downloads
 *   refusal for public packages, 401/403/404 bodies, `state=deleted` and restore. The registry's
 *   own DELETE does the deleting; a restore pushes the kept manifest bytes back.
 *
 * What GitHub does not document (the exact refusal bodies) is modelled on reports and marked so.
 */
import { randomUUID } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { freePort, type RunningRegistry, startRegistry } from './registry-server.js';

const ACCEPT = [
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
].join(', ');
const DOCS = 'https://docs.github.com/rest/packages/packages';

export interface FakeGitHubToken {
  /** The user the token belongs to. */
  login: string;
  /** Classic token scopes, sent back as `x-oauth-scopes`. */
  scopes: string[];
}

export interface FakeGitHubOptions {
  /** Owners and their kind. Default `{ 'my-org': 'Organization', me: 'User' }`. */
  owners?: Record<string, 'Organization' | 'User'>;
  /** Token value → owner and scopes. */
  tokens: Record<string, FakeGitHubToken>;
  /** Primary rate limit per token and hour. Default 5000. */
  rateLimit?: number;
}

interface DeletedVersion {
  id: number;
  repo: string;
  digest: string;
  bytes: Buffer;
  mediaType: string;
  createdAt: string;
  deletedAt: string;
}

export interface FakeGitHubPackages {
  /** `http://127.0.0.1:PORT` (registry and API on one origin). */
  url: string;
  /** `127.0.0.1:PORT` */
  host: string;
  /** API base URL, `http://127.0.0.1:PORT/api/v3`. */
  apiUrl: string;
  registry: RunningRegistry;
  /** Every API request, as `METHOD /path?query` (below `/api/v3`). */
  apiLog: string[];
  /** Every `/v2` request, as `METHOD /v2/…`. */
  ociLog: string[];
  /** Marks a package (`owner/name`) public (its versions count downloads). */
  setPublic(repo: string): void;
  /** Sets the download count of one version. */
  setDownloads(repo: string, digest: string, count: number): void;
  /** The next `count` API requests answer a secondary rate limit (403, `retry-after` if given). */
  secondaryLimit(count: number, retryAfterSeconds?: number): void;
  /** Sets the token's primary limit: `remaining` requests left until `resetInSeconds`. */
  primaryLimit(token: string, remaining: number, resetInSeconds: number): void;
  /** Sets a version's `created_at` (ISO 8601). */
  setCreated(repo: string, digest: string, iso: string): void;
  /**
   * The next version DELETE answers `status` (with GitHub's error shape) after it deleted the
   * version: a server error after the change, as any HTTP server may give.
   */
  failNextDeleteAfterDeleting(status: number): void;
  stop(): Promise<void>;
}

interface Limit {
  remaining: number;
  reset: number;
}

/** Starts the fake on a fresh real registry. */
export async function startFakeGitHubPackages(
  options: FakeGitHubOptions,
): Promise<FakeGitHubPackages> {
  const registry = await startRegistry();
  const owners = options.owners ?? { 'my-org': 'Organization', me: 'User' };
  const limitPerHour = options.rateLimit ?? 5000;
  const ids = new Map<string, number>();
  let nextId = 1000;
  const idOf = (repo: string, digest: string) => {
    const key = `${repo}@${digest}`;
    let id = ids.get(key);
    if (id === undefined) {
      id = nextId++;
      ids.set(key, id);
    }
    return id;
  };
  const created = new Map<string, string>();
  const publicRepos = new Set<string>();
  const downloads = new Map<string, number>();
  const deleted = new Map<number, DeletedVersion>();
  const limits = new Map<string, Limit>();
  const registryTokens = new Set<string>();
  let secondary = { count: 0, retryAfter: undefined as number | undefined };
  let deleteThenFail: number | undefined;
  const apiLog: string[] = [];
  const ociLog: string[] = [];
  const repoRoot = join(registry.dataDir, 'docker/registry/v2/repositories');

  async function repositories(): Promise<string[]> {
    const out: string[] = [];
    async function walk(dir: string, prefix: string): Promise<void> {
      let entries: string[];
      try {
        entries = await readdir(dir);
      } catch {
        return;
      }
      if (entries.includes('_manifests')) out.push(prefix);
      for (const entry of entries) {
        if (entry.startsWith('_')) continue;
        await walk(join(dir, entry), prefix ? `${prefix}/${entry}` : entry);
      }
    }
    await walk(repoRoot, '');
    return out.sort();
  }

  /** Active versions of a repository from the registry's storage, newest first (as GitHub). */
  async function versionsOf(repo: string) {
    const base = join(repoRoot, repo, '_manifests');
    const tagsOf = new Map<string, string[]>();
    const updated = new Map<string, number>();
    for (const tag of await readdir(join(base, 'tags')).catch(() => [] as string[])) {
      const link = join(base, 'tags', tag, 'current/link');
      const digest = (await readFile(link, 'utf8').catch(() => '')).trim();
      if (!digest) continue;
      tagsOf.set(digest, [...(tagsOf.get(digest) ?? []), tag].sort());
      const mtime = (await stat(link)).mtimeMs;
      updated.set(digest, Math.max(updated.get(digest) ?? 0, mtime));
    }
    const list = [];
    for (const hex of await readdir(join(base, 'revisions/sha256')).catch(() => [] as string[])) {
      const link = join(base, 'revisions/sha256', hex, 'link');
      const info = await stat(link).catch(() => undefined);
      if (!info) continue;
      const digest = `sha256:${hex}`;
      const createdAt = created.get(`${repo}@${digest}`) ?? info.mtime.toISOString();
      const updatedAt = new Date(Math.max(info.mtimeMs, updated.get(digest) ?? 0)).toISOString();
      list.push({ digest, tags: tagsOf.get(digest) ?? [], createdAt, updatedAt });
    }
    list.sort((a, b) => b.createdAt.localeCompare(a.createdAt) || a.digest.localeCompare(b.digest));
    return list;
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      res.statusCode = 500;
      res.end(JSON.stringify({ message: String(error) }));
    });
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${port}`;
  const apiUrl = `${url}/api/v3`;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (path === '/token') return token(req, res);
    if (path.startsWith('/v2/') || path === '/v2') return oci(req, res);
    if (path.startsWith('/api/v3/')) return api(req, res);
    res.statusCode = 404;
    res.end();
  }

  function bearerOf(req: IncomingMessage): string | undefined {
    const match = /^(?:Bearer|token)\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    return match?.[1];
  }

  /** ghcr.io-style token service: Basic `user:<GitHub token>` → a registry token. */
  function token(req: IncomingMessage, res: ServerResponse): void {
    const basic = /^Basic\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    const pair = basic ? Buffer.from(basic[1] as string, 'base64').toString() : '';
    const secret = pair.slice(pair.indexOf(':') + 1);
    if (!basic || !options.tokens[secret]) {
      res.statusCode = 401;
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }),
      );
      return;
    }
    const value = randomUUID();
    registryTokens.add(value);
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ token: value, expires_in: 300 }));
  }

  async function oci(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const target = req.url ?? '/';
    ociLog.push(`${req.method} ${target.split('?')[0]}`);
    const auth = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    if (!auth || !registryTokens.has(auth[1] as string)) {
      res.statusCode = 401;
      res.setHeader(
        'www-authenticate',
        `Bearer realm="${url}/token",service="ghcr.io",scope="repository:user/image:pull"`,
      );
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }),
      );
      return;
    }
    if (req.method === 'DELETE' && /\/manifests\//.test(target)) {
      res.statusCode = 405;
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify({
          errors: [{ code: 'UNSUPPORTED', message: 'The operation is unsupported.' }],
        }),
      );
      return;
    }
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const headers: Record<string, string> = {};
    for (const name of ['accept', 'content-type']) {
      const value = req.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    const upstream = await fetch(`${registry.url}${target}`, {
      method: req.method ?? 'GET',
      headers,
      redirect: 'manual',
      ...(chunks.length > 0 ? { body: Buffer.concat(chunks) } : {}),
    });
    res.statusCode = upstream.status;
    upstream.headers.forEach((value, name) => {
      if (['transfer-encoding', 'connection', 'keep-alive', 'content-encoding'].includes(name))
        return;
      res.setHeader(name, name === 'location' ? value.replace(registry.url, url) : value);
    });
    const body = Buffer.from(await upstream.arrayBuffer());
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  function send(
    res: ServerResponse,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ): void {
    res.statusCode = status;
    for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
    if (body === undefined) {
      res.end();
      return;
    }
    res.setHeader('content-type', 'application/json; charset=utf-8');
    res.end(JSON.stringify(body));
  }

  const error = (message: string, status: number) => ({
    message,
    documentation_url: DOCS,
    status: String(status),
  });

  async function api(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const full = new URL(req.url ?? '/', url);
    const rest = full.pathname.slice('/api/v3'.length);
    apiLog.push(`${req.method} ${rest}${full.search}`);
    const secret = bearerOf(req);
    const who = secret ? options.tokens[secret] : undefined;
    if (!secret) return send(res, 401, error('Requires authentication', 401));
    if (!who) return send(res, 401, error('Bad credentials', 401));
    // Primary limit: x-ratelimit-* on every answer; 403 once used up, until the reset.
    const now = Math.floor(Date.now() / 1000);
    let limit = limits.get(secret);
    if (!limit || limit.reset <= now) {
      limit = { remaining: limitPerHour, reset: now + 3600 };
      limits.set(secret, limit);
    }
    const rate = (): Record<string, string> => ({
      'x-ratelimit-limit': String(limitPerHour),
      'x-ratelimit-remaining': String(limit.remaining),
      'x-ratelimit-used': String(limitPerHour - limit.remaining),
      'x-ratelimit-reset': String(limit.reset),
      'x-ratelimit-resource': 'core',
      'x-oauth-scopes': who.scopes.join(', '),
    });
    if (limit.remaining <= 0)
      return send(
        res,
        403,
        error(`API rate limit exceeded for user ID 1. (${who.login})`, 403),
        rate(),
      );
    limit.remaining--;
    if (secondary.count > 0) {
      secondary.count--;
      return send(
        res,
        403,
        error(
          'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.',
          403,
        ),
        {
          ...rate(),
          ...(secondary.retryAfter !== undefined
            ? { 'retry-after': String(secondary.retryAfter) }
            : {}),
        },
      );
    }
    const headers = rate();
    const segments = rest.split('/').filter(Boolean).map(decodeURIComponent);
    if (req.method === 'GET' && segments[0] === 'user' && segments.length === 1)
      return send(res, 200, { login: who.login, type: 'User' }, headers);
    if (req.method === 'GET' && segments[0] === 'users' && segments.length === 2) {
      const type = owners[segments[1] as string];
      if (!type) return send(res, 404, error('Not Found', 404), headers);
      return send(res, 200, { login: segments[1], type }, headers);
    }
    // {orgs/{org} | users/{user} | user} / packages [/container/{name}/versions[/{id}[/restore]]]
    let owner: string | undefined;
    let at: number;
    if (segments[0] === 'orgs' && owners[segments[1] as string] === 'Organization') {
      owner = segments[1];
      at = 2;
    } else if (segments[0] === 'users' && owners[segments[1] as string] === 'User') {
      owner = segments[1];
      at = 2;
    } else if (segments[0] === 'user') {
      owner = who.login;
      at = 1;
    } else return send(res, 404, error('Not Found', 404), headers);
    if (segments[at] !== 'packages') return send(res, 404, error('Not Found', 404), headers);
    if (!who.scopes.includes('read:packages'))
      return send(res, 403, error('You need at least read:packages scope to list packages.', 403), {
        ...headers,
        'x-accepted-oauth-scopes': 'read:packages',
      });
    const all = (await repositories()).filter((r) => r.startsWith(`${owner}/`));
    if (segments.length === at + 1 && req.method === 'GET') {
      if (full.searchParams.get('package_type') !== 'container') return send(res, 200, [], headers);
      const items = all.map((r, i) => ({
        id: 500 + i,
        name: r.slice((owner as string).length + 1),
        package_type: 'container',
        owner: { login: owner, type: owners[owner as string] ?? 'User' },
        visibility: publicRepos.has(r) ? 'public' : 'private',
        url: `${apiUrl}/${segments.slice(0, at).join('/')}/packages/container/${encodeURIComponent(r.slice((owner as string).length + 1))}`,
      }));
      return page(full, res, items, headers);
    }
    if (segments[at + 1] !== 'container' || segments[at + 3] !== 'versions')
      return send(res, 404, error('Not Found', 404), headers);
    const repo = `${owner}/${segments[at + 2]}`;
    const deletedHere = [...deleted.values()].filter((d) => d.repo === repo);
    if (!all.includes(repo) && deletedHere.length === 0)
      return send(res, 404, error('Package not found.', 404), headers);
    const versionUrl = (id: number) =>
      `${apiUrl}/${segments
        .slice(0, at + 4)
        .map(encodeURIComponent)
        .join('/')}/${id}`;
    const body = (
      id: number,
      digest: string,
      tags: string[],
      createdAt: string,
      updatedAt: string,
    ) => ({
      id,
      name: digest,
      url: versionUrl(id),
      package_html_url: `https://github.com/${owner}/packages/container/package/${segments[at + 2]}`,
      created_at: createdAt,
      updated_at: updatedAt,
      html_url: `https://github.com/${owner}/packages/container/${segments[at + 2]}/${id}`,
      metadata: { package_type: 'container', container: { tags } },
    });
    if (segments.length === at + 4 && req.method === 'GET') {
      if (full.searchParams.get('state') === 'deleted')
        return page(
          full,
          res,
          deletedHere.map((d) => body(d.id, d.digest, [], d.createdAt, d.deletedAt)),
          headers,
        );
      const list = (await versionsOf(repo)).map((v) =>
        body(idOf(repo, v.digest), v.digest, v.tags, v.createdAt, v.updatedAt),
      );
      return page(full, res, list, headers);
    }
    const id = Number(segments[at + 4]);
    const active = (await versionsOf(repo)).find((v) => idOf(repo, v.digest) === id);
    if (segments.length === at + 5 && req.method === 'DELETE') {
      if (!who.scopes.includes('delete:packages'))
        return send(
          res,
          403,
          error('You need at least delete:packages scope to delete packages.', 403),
          { ...headers, 'x-accepted-oauth-scopes': 'delete:packages' },
        );
      if (!active) return send(res, 404, error('Package version not found.', 404), headers);
      // Documented rule; the answer's exact shape is not documented (modelled on reports).
      if (publicRepos.has(repo) && (downloads.get(`${repo}@${active.digest}`) ?? 0) > 5000)
        return send(
          res,
          400,
          error(
            'Publicly visible package versions with more than 5000 downloads cannot be deleted. Contact GitHub support for further assistance.',
            400,
          ),
          headers,
        );
      const got = await fetch(`${registry.url}/v2/${repo}/manifests/${active.digest}`, {
        headers: { accept: ACCEPT },
      });
      const bytes = Buffer.from(await got.arrayBuffer());
      const mediaType = (got.headers.get('content-type') ?? '').split(';')[0] as string;
      const gone = await fetch(`${registry.url}/v2/${repo}/manifests/${active.digest}`, {
        method: 'DELETE',
      });
      await gone.arrayBuffer();
      if (gone.status !== 202) return send(res, 500, error('delete failed', 500), headers);
      deleted.set(id, {
        id,
        repo,
        digest: active.digest,
        bytes,
        mediaType,
        createdAt: active.createdAt,
        deletedAt: new Date().toISOString(),
      });
      if (deleteThenFail !== undefined) {
        const status = deleteThenFail;
        deleteThenFail = undefined;
        return send(res, status, error('Server Error', status), headers);
      }
      return send(res, 204, undefined, headers);
    }
    if (segments.length === at + 6 && segments[at + 5] === 'restore' && req.method === 'POST') {
      if (!who.scopes.includes('write:packages'))
        return send(
          res,
          403,
          error('You need at least write:packages scope to restore packages.', 403),
          { ...headers, 'x-accepted-oauth-scopes': 'write:packages' },
        );
      const kept = deleted.get(id);
      if (!kept || kept.repo !== repo)
        return send(res, 404, error('Package version not found.', 404), headers);
      const put = await fetch(`${registry.url}/v2/${repo}/manifests/${kept.digest}`, {
        method: 'PUT',
        headers: { 'content-type': kept.mediaType },
        body: kept.bytes,
      });
      await put.arrayBuffer();
      if (put.status !== 201) return send(res, 500, error('restore failed', 500), headers);
      deleted.delete(id);
      return send(res, 204, undefined, headers);
    }
    if (segments.length === at + 5 && req.method === 'GET') {
      if (!active) return send(res, 404, error('Package version not found.', 404), headers);
      return send(
        res,
        200,
        body(id, active.digest, active.tags, active.createdAt, active.updatedAt),
        headers,
      );
    }
    return send(res, 404, error('Not Found', 404), headers);
  }

  /** `per_page` (default 30, at most 100) and `page`, with a `Link` header as GitHub sends. */
  function page(
    full: URL,
    res: ServerResponse,
    items: unknown[],
    headers: Record<string, string>,
  ): void {
    const perPage = Math.min(100, Math.max(1, Number(full.searchParams.get('per_page') ?? 30)));
    const number = Math.max(1, Number(full.searchParams.get('page') ?? 1));
    const last = Math.max(1, Math.ceil(items.length / perPage));
    const links: string[] = [];
    const at = (n: number) => {
      const u = new URL(full);
      u.searchParams.set('page', String(n));
      u.searchParams.set('per_page', String(perPage));
      return u.toString();
    };
    if (number < last) links.push(`<${at(number + 1)}>; rel="next"`, `<${at(last)}>; rel="last"`);
    if (number > 1) links.push(`<${at(1)}>; rel="first"`, `<${at(number - 1)}>; rel="prev"`);
    send(res, 200, items.slice((number - 1) * perPage, number * perPage), {
      ...headers,
      ...(links.length > 0 ? { link: links.join(', ') } : {}),
    });
  }

  return {
    url,
    host: `127.0.0.1:${port}`,
    apiUrl,
    registry,
    apiLog,
    ociLog,
    setPublic: (repo) => publicRepos.add(repo),
    setDownloads: (repo, digest, count) => downloads.set(`${repo}@${digest}`, count),
    secondaryLimit: (count, retryAfter) => {
      secondary = { count, retryAfter };
    },
    primaryLimit: (secretToken, remaining, resetIn) =>
      limits.set(secretToken, { remaining, reset: Math.floor(Date.now() / 1000) + resetIn }),
    setCreated: (repo, digest, iso) => created.set(`${repo}@${digest}`, iso),
    failNextDeleteAfterDeleting: (status) => {
      deleteThenFail = status;
    },
    async stop() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await registry.stop();
    },
  };
}
