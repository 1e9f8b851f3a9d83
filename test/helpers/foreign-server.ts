/**
 * A small in-process HTTP(S) server on 127.0.0.1 standing in for a host that is NOT the registry
 * (a CDN a blob is redirected to, a `Link` target, an attacker's token realm). It records every
 * request it receives, headers and body included, and answers with `respond`.
 */
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  method: string;
  /** `path?query` */
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
}

export interface ForeignServer {
  /** `http(s)://127.0.0.1:PORT` */
  url: string;
  /** `127.0.0.1:PORT` */
  host: string;
  /** Every request received, in arrival order. */
  received: ReceivedRequest[];
  stop(): Promise<void>;
}

export async function startForeignServer(
  respond: (req: ReceivedRequest, res: ServerResponse) => void,
  options: { tls?: { certificate: string; key: string } } = {},
): Promise<ForeignServer> {
  const received: ReceivedRequest[] = [];
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const seen = {
        method: req.method ?? 'GET',
        path: req.url ?? '/',
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
      };
      received.push(seen);
      respond(seen, res);
    });
  };
  const server = options.tls
    ? createTlsServer(
        {
          cert: await readFile(options.tls.certificate),
          key: await readFile(options.tls.key),
        },
        handler,
      )
    : createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    received,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
