/**
 * A test-only HTTP proxy on 127.0.0.1 in front of a real registry. It forwards every request and,
 * for requests matching a rule (method + path regex, chosen occurrences), injects a fault: drop
 * the connection, stall, answer 429 (with or without Retry-After) or 5xx, cut the body short,
 * corrupt a manifest body, send a wrong Docker-Content-Digest, add a Link header that loops or
 * points elsewhere, or redirect to another host. It also delays requests (to slow a run down) and
 * logs and counts everything it saw. With `tls` it serves HTTPS (a TLS-terminating front end).
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';

/** What to do to a matching request. */
export type Fault =
  /** Close the socket without answering (the request never reaches the registry). */
  | { kind: 'drop' }
  /** Hold the request `ms` without answering, then close the socket (never forwarded). */
  | { kind: 'stall'; ms: number }
  /** Answer this status without forwarding; `retryAfter` sets `Retry-After`. */
  | { kind: 'status'; status: number; retryAfter?: string }
  /** Forward, then send the headers (with the full Content-Length) and half the body, and close. */
  | { kind: 'truncate' }
  /** Forward, then send the headers (full Content-Length) and the body one byte every `ms`. */
  | { kind: 'drip'; ms: number }
  /** Forward, then flip one byte in the middle of the body (same length). */
  | { kind: 'corrupt' }
  /** Forward, then replace `Docker-Content-Digest` with the digest of something else. */
  | { kind: 'wrong-digest' }
  /** Forward, then add `Link: <this same URL>; rel="next"`. */
  | { kind: 'link-loop' }
  /** Forward, then set `Link: <next>; rel="next"`. */
  | { kind: 'link'; next: string }
  /** Forward, then add a `Link` to this same path with a new `page` each time: pages without end. */
  | { kind: 'link-endless' }
  /** Answer 307 with `Location: <to><path?query>` without forwarding (a storage redirect to a CDN). */
  | { kind: 'redirect'; to: string }
  /** Forward after `ms` (the upstream request is sent even if the client has gone). */
  | { kind: 'delay'; ms: number };

export interface FaultRule {
  /** HTTP method; default any. */
  method?: string;
  /** Matched against `path?query`. */
  path: RegExp;
  /** 1-based occurrences among matching requests to affect, or `'all'`. Default `[1]`. */
  nth?: number[] | 'all';
  fault: Fault;
}

export interface FaultProxy {
  /** `http://127.0.0.1:PORT` (`https://` with `tls`) */
  url: string;
  /** `127.0.0.1:PORT` */
  host: string;
  /** `METHOD path?query` of every request, in arrival order. */
  log: string[];
  /** Faults injected, as `kind METHOD path`. */
  injected: string[];
  /** Replaces the rules (occurrence counters restart). */
  setRules(rules: FaultRule[]): void;
  stop(): Promise<void>;
}

interface Upstream {
  status: number;
  headers: Record<string, string | string[]>;
  body: Buffer;
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function forward(target: URL, req: IncomingMessage, body: Buffer): Promise<Upstream> {
  return new Promise((resolve, reject) => {
    // The client's Host stays: the registry builds upload Locations from it, so they name the proxy.
    const headers = { ...req.headers };
    const upstream = httpRequest(target, { method: req.method, headers, agent: false }, (res) => {
      readAll(res).then(
        (data) =>
          resolve({
            status: res.statusCode ?? 502,
            headers: res.headers as Record<string, string | string[]>,
            body: data,
          }),
        reject,
      );
    });
    upstream.on('error', reject);
    upstream.end(body);
  });
}

function send(res: ServerResponse, up: Upstream): void {
  const headers = { ...up.headers };
  delete headers['transfer-encoding'];
  delete headers.connection;
  headers['content-length'] = String(up.body.length);
  res.writeHead(up.status, headers);
  res.end(up.body);
}

/**
 * Starts a proxy forwarding to `upstreamUrl` (e.g. a test registry); with `tls` (PEM files) it
 * serves HTTPS itself.
 */
export async function startFaultProxy(
  upstreamUrl: string,
  options: { tls?: { certificate: string; key: string } } = {},
): Promise<FaultProxy> {
  let rules: FaultRule[] = [];
  let seen: number[] = [];
  const log: string[] = [];
  const injected: string[] = [];
  let pages = 0;
  const pick = (method: string, path: string): Fault | undefined => {
    let chosen: Fault | undefined;
    rules.forEach((rule, i) => {
      if (rule.method && rule.method !== method) return;
      if (!rule.path.test(path)) return;
      seen[i] = (seen[i] ?? 0) + 1;
      const nth = rule.nth ?? [1];
      if (!chosen && (nth === 'all' || nth.includes(seen[i] as number))) chosen = rule.fault;
    });
    return chosen;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    log.push(`${method} ${path}`);
    const body = await readAll(req);
    const fault = pick(method, path);
    if (fault) injected.push(`${fault.kind} ${method} ${path}`);
    const target = new URL(path, upstreamUrl);
    switch (fault?.kind) {
      case 'drop':
        req.socket.destroy();
        return;
      case 'stall':
        await new Promise((r) => setTimeout(r, fault.ms));
        req.socket.destroy();
        return;
      case 'status':
        res.writeHead(fault.status, {
          'content-type': 'application/json',
          ...(fault.retryAfter !== undefined ? { 'retry-after': fault.retryAfter } : {}),
        });
        res.end(JSON.stringify({ errors: [{ code: 'INJECTED', message: 'fault proxy' }] }));
        return;
      case 'redirect':
        res.writeHead(307, { location: `${fault.to}${path}`, 'content-length': '0' });
        res.end();
        return;
      case 'delay':
        await new Promise((r) => setTimeout(r, fault.ms));
        break;
      default:
        break;
    }
    const up = await forward(target, req, body);
    switch (fault?.kind) {
      case 'truncate': {
        const headers: Record<string, string | string[]> = {
          ...up.headers,
          'content-length': String(up.body.length),
        };
        delete headers['transfer-encoding'];
        res.writeHead(up.status, headers);
        res.write(up.body.subarray(0, Math.floor(up.body.length / 2)));
        // Let the half body leave before the connection dies mid-body.
        setTimeout(() => req.socket.destroy(), 20);
        return;
      }
      case 'drip': {
        const headers: Record<string, string | string[]> = {
          ...up.headers,
          'content-length': String(up.body.length),
        };
        delete headers['transfer-encoding'];
        res.writeHead(up.status, headers);
        res.flushHeaders();
        let at = 0;
        const timer = setInterval(() => {
          if (at >= up.body.length || res.destroyed) {
            clearInterval(timer);
            res.end();
            return;
          }
          res.write(up.body.subarray(at, at + 1));
          at++;
        }, fault.ms);
        res.on('close', () => clearInterval(timer));
        return;
      }
      case 'corrupt': {
        if (up.body.length > 0) {
          const at = Math.floor(up.body.length / 2);
          up.body[at] = (up.body[at] as number) ^ 0x01;
        }
        break;
      }
      case 'wrong-digest': {
        const other = createHash('sha256').update(up.body).update('other').digest('hex');
        up.headers['docker-content-digest'] = `sha256:${other}`;
        break;
      }
      case 'link-loop':
        up.headers.link = `<${path}>; rel="next"`;
        break;
      case 'link':
        up.headers.link = `<${fault.next}>; rel="next"`;
        break;
      case 'link-endless': {
        const next = new URL(path, 'http://proxy');
        next.searchParams.set('page', String(++pages));
        up.headers.link = `<${next.pathname}${next.search}>; rel="next"`;
        break;
      }
      default:
        break;
    }
    send(res, up);
  };

  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(502).end();
      else req.socket.destroy();
    });
  };
  const server: Server = options.tls
    ? createTlsServer(
        { cert: await readFile(options.tls.certificate), key: await readFile(options.tls.key) },
        onRequest,
      )
    : createServer(onRequest);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    log,
    injected,
    setRules(next) {
      rules = next;
      seen = [];
    },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
