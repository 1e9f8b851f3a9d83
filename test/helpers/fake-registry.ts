/**
 * An in-process registry following the OCI distribution spec text, ONLY for what Debian's
 * docker-registry 2.8 lacks (referrers API with paging, tag DELETE answering 202, 429 with
 * Retry-After) and for misbehaviour a correct registry never shows (broken Link chains, bodies not
 * matching their digest). Everything else is tested against the real registry.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

export interface FakeManifest {
  bytes: Buffer;
  mediaType: string;
}

export type Hook = (req: IncomingMessage, res: ServerResponse, url: URL) => boolean | undefined;

export interface FakeRegistry {
  url: string;
  /** `METHOD path?query` of every request, in order. */
  log: string[];
  /** Stores a manifest (object → JSON) and optionally tags it; returns its descriptor. */
  put(
    repo: string,
    manifest: object,
    mediaType: string,
    tag?: string,
  ): { digest: string; size: number; mediaType: string };
  tags(repo: string): Map<string, string>;
  manifests: Map<string, FakeManifest>;
  /** Runs before the spec handlers; returns true when it answered. */
  hook: Hook | undefined;
  /** Referrers page size (the spec lets registries page with Link). */
  referrersPageSize: number;
  /** Whether `DELETE /manifests/<tag>` is supported (OCI 1.1: 202). */
  tagDelete: boolean;
  stop(): Promise<void>;
}

function sha256(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

export async function startFakeRegistry(): Promise<FakeRegistry> {
  const repos = new Map<string, Map<string, string>>();
  const manifests = new Map<string, FakeManifest>();
  const tagsOf = (repo: string) => {
    let t = repos.get(repo);
    if (!t) {
      t = new Map();
      repos.set(repo, t);
    }
    return t;
  };
  const fake: FakeRegistry = {
    url: '',
    log: [],
    manifests,
    hook: undefined,
    referrersPageSize: 1,
    tagDelete: true,
    tags: tagsOf,
    put(repo, manifest, mediaType, tag) {
      const bytes = Buffer.from(JSON.stringify(manifest));
      const digest = sha256(bytes);
      manifests.set(digest, { bytes, mediaType });
      tagsOf(repo);
      if (tag) tagsOf(repo).set(tag, digest);
      return { digest, size: bytes.length, mediaType };
    },
    stop: async () => {},
  };
  const errors = (res: ServerResponse, status: number, code: string) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ errors: [{ code, message: code.toLowerCase() }] }));
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      fake.log.push(`${req.method} ${url.pathname}${url.search}`);
      if (fake.hook?.(req, res, url)) return;
      const path = url.pathname;
      if (path === '/v2/') {
        res.writeHead(200).end('{}');
        return;
      }
      if (path === '/v2/_catalog') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ repositories: [...repos.keys()].sort() }));
        return;
      }
      let m = /^\/v2\/(.+)\/tags\/list$/.exec(path);
      if (m) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ name: m[1], tags: [...tagsOf(m[1] as string).keys()] }));
        return;
      }
      m = /^\/v2\/(.+)\/referrers\/(sha256:[a-f0-9]{64})$/.exec(path);
      if (m) {
        // distribution-spec "Listing Referrers": an image index of descriptors whose subject is the digest.
        const [, repo, subject] = m as unknown as [string, string, string];
        const all = [...tagsOf(repo).values(), ...manifests.keys()]
          .filter((d, i, a) => a.indexOf(d) === i)
          .flatMap((digest) => {
            const found = manifests.get(digest);
            if (!found) return [];
            const body = JSON.parse(found.bytes.toString()) as {
              subject?: { digest: string };
              artifactType?: string;
            };
            if (body.subject?.digest !== subject) return [];
            return [
              {
                mediaType: found.mediaType,
                digest,
                size: found.bytes.length,
                artifactType: body.artifactType ?? 'application/octet-stream',
              },
            ];
          })
          .sort((a, b) => (a.digest < b.digest ? -1 : 1));
        const page = Number(url.searchParams.get('page') ?? '0');
        const size = fake.referrersPageSize;
        const slice = all.slice(page * size, page * size + size);
        const headers: Record<string, string> = {
          'content-type': 'application/vnd.oci.image.index.v1+json',
        };
        if ((page + 1) * size < all.length) headers.link = `<${path}?page=${page + 1}>; rel="next"`;
        res.writeHead(200, headers);
        res.end(
          JSON.stringify({
            schemaVersion: 2,
            mediaType: 'application/vnd.oci.image.index.v1+json',
            manifests: slice,
          }),
        );
        return;
      }
      m = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(path);
      if (m) {
        const [, repo, ref] = m as unknown as [string, string, string];
        const tags = tagsOf(repo);
        const digest = ref.includes(':') ? ref : tags.get(ref);
        const found = digest ? manifests.get(digest) : undefined;
        if (req.method === 'DELETE') {
          if (!ref.includes(':')) {
            if (!fake.tagDelete) return errors(res, 400, 'DIGEST_INVALID');
            if (!tags.delete(ref)) return errors(res, 404, 'MANIFEST_UNKNOWN');
            res.writeHead(202).end();
            return;
          }
          if (!found) return errors(res, 404, 'MANIFEST_UNKNOWN');
          manifests.delete(ref);
          for (const [t, d] of tags) if (d === ref) tags.delete(t);
          res.writeHead(202).end();
          return;
        }
        if (req.method === 'PUT') {
          const bytes = Buffer.concat(chunks);
          const d = sha256(bytes);
          manifests.set(d, { bytes, mediaType: req.headers['content-type'] ?? '' });
          if (!ref.includes(':')) tags.set(ref, d);
          res.writeHead(201, { 'docker-content-digest': d }).end();
          return;
        }
        if (!found || !digest) return errors(res, 404, 'MANIFEST_UNKNOWN');
        res.writeHead(200, {
          'content-type': found.mediaType,
          'docker-content-digest': digest,
          'content-length': String(found.bytes.length),
        });
        res.end(req.method === 'HEAD' ? undefined : found.bytes);
        return;
      }
      m = /^\/v2\/(.+)\/blobs\/(sha256:[a-f0-9]{64})$/.exec(path);
      if (m) {
        res.writeHead(200, { 'content-length': '2' }).end(req.method === 'HEAD' ? undefined : '{}');
        return;
      }
      errors(res, 404, 'NAME_UNKNOWN');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  fake.url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  fake.stop = () =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return fake;
}

const LAYER = 'application/vnd.oci.image.layer.v1.tar';
/** A small OCI image manifest object (blobs are not checked by the fake). */
export function imageManifest(salt: string, extra: Record<string, unknown> = {}): object {
  const d = (s: string) => sha256(Buffer.from(s));
  return {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: {
      mediaType: 'application/vnd.oci.image.config.v1+json',
      digest: d(`config ${salt}`),
      size: 10,
    },
    layers: [{ mediaType: LAYER, digest: d(`layer ${salt}`), size: 20 }],
    ...extra,
  };
}
