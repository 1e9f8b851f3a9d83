/**
 * A `fetch` for one client that trusts extra certificate authorities. Node's built-in fetch has no
 * per-request CA option, and NODE_TLS_REJECT_UNAUTHORIZED / NODE_EXTRA_CA_CERTS change the whole
 * process; this keeps verification on and scopes the extra trust to one RegistryClient.
 */
import { readFileSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent, request as httpsRequest } from 'node:https';
import { Readable } from 'node:stream';
import { rootCertificates } from 'node:tls';

const NULL_BODY = new Set([101, 103, 204, 205, 304]);

/**
 * Returns a `fetch` that verifies HTTPS servers against the default roots plus `ca` (PEM). It
 * never follows redirects (the client handles them) and streams bodies.
 */
export function fetchTrusting(ca: string | string[]): typeof globalThis.fetch {
  const agent = new Agent({ ca: withDefaultRoots(ca), keepAlive: true });
  const tlsFetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const request = new Request(input, init);
    const url = new URL(request.url);
    const body = request.body ? Buffer.from(await request.arrayBuffer()) : undefined;
    const headers: Record<string, string> = {};
    request.headers.forEach((value, key) => {
      headers[key] = value;
    });
    if (body) headers['content-length'] = String(body.length);
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const signal = request.signal;
    signal.throwIfAborted();
    const message = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = send(
        url,
        {
          method: request.method,
          headers,
          signal,
          ...(url.protocol === 'https:' ? { agent } : {}),
        },
        resolve,
      );
      req.on('error', reject);
      req.end(body);
    });
    const responseHeaders = new Headers();
    for (const [key, value] of Object.entries(message.headers)) {
      if (value === undefined) continue;
      for (const v of Array.isArray(value) ? value : [value]) responseHeaders.append(key, v);
    }
    const status = message.statusCode ?? 502;
    const noBody = request.method === 'HEAD' || NULL_BODY.has(status);
    if (noBody) message.resume();
    const stream = noBody
      ? null
      : (Readable.toWeb(message) as unknown as ReadableStream<Uint8Array>);
    return new Response(stream, {
      status,
      statusText: message.statusMessage,
      headers: responseHeaders,
    });
  };
  return tlsFetch as typeof globalThis.fetch;
}

/** Node replaces its default roots when `ca` is given: keep them, and add the extra ones. */
function withDefaultRoots(ca: string | string[]): string[] {
  // `tls.rootCertificates` is Node's bundled list (what verification uses without `ca`).
  return [...rootCertificates, ...(Array.isArray(ca) ? ca : [ca])];
}

/**
 * A `fetch` trusting the client's `ca`/`caFile` options, or `undefined` when neither is set.
 * @throws {TypeError} when both `fetch` and a CA are given, or the CA is not PEM text.
 */
export function trustedFetch(options: {
  ca?: string | string[];
  caFile?: string;
  fetch?: typeof globalThis.fetch;
}): typeof globalThis.fetch | undefined {
  if (options.ca === undefined && options.caFile === undefined) return undefined;
  if (options.fetch) throw new TypeError('RegistryClient: give either `fetch` or `ca`/`caFile`');
  const pems = options.ca === undefined ? [] : [options.ca].flat();
  if (options.caFile !== undefined) {
    try {
      pems.push(readFileSync(options.caFile, 'utf8'));
    } catch (error) {
      throw new TypeError(
        `RegistryClient: caFile ${options.caFile} cannot be read (${(error as Error).message})`,
      );
    }
  }
  if (!pems.every((pem) => pem.includes('-----BEGIN CERTIFICATE-----')))
    throw new TypeError('RegistryClient: `ca` must be PEM text (-----BEGIN CERTIFICATE-----)');
  return fetchTrusting(pems);
}
