/**
 * A loopback token service for Bearer-auth tests: checks Basic credentials, grants the scopes a
 * user may have, and mints RS256 JWTs (header `x5c` with a self-signed certificate made by the
 * `openssl` CLI) that distribution's `auth.token` accepts with that certificate as root bundle.
 */
import { execFile } from 'node:child_process';
import { createPrivateKey, createSign, randomUUID, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TokenServer {
  realm: string;
  service: string;
  issuer: string;
  certPath: string;
  /** Every scope string requested, in order. */
  requested: string[];
  /** A token for `user` with the given scopes (for pushing fixtures). */
  mint(user: string, scopes: string[]): string;
  stop(): Promise<void>;
}

/**
 * `users`: password and the actions allowed on every repository (e.g. `['pull','push','delete']`);
 * `refreshToken` lets the user also log in with Docker's identity token (OAuth2 `POST` with
 * `grant_type=refresh_token`).
 */
export async function startTokenServer(
  dir: string,
  users: Record<
    string,
    { password: string; actions: string[]; catalog?: boolean; refreshToken?: string }
  >,
): Promise<TokenServer> {
  const keyPath = join(dir, 'token.key');
  const certPath = join(dir, 'token.crt');
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    keyPath,
    '-out',
    certPath,
    '-days',
    '1',
    '-subj',
    '/CN=regprune-test-token',
  ]);
  const key = createPrivateKey(await readFile(keyPath));
  const certDer = new X509Certificate(await readFile(certPath)).raw.toString('base64');
  const service = 'regprune-test';
  const issuer = 'regprune-test-issuer';
  const requested: string[] = [];
  const b64 = (value: object | Buffer) =>
    (Buffer.isBuffer(value) ? value : Buffer.from(JSON.stringify(value))).toString('base64url');

  function mint(user: string, scopes: string[]): string {
    const allowed = users[user];
    const access = scopes.flatMap((scope) => {
      const [type, ...rest] = scope.split(':');
      const actions = (rest.pop() ?? '').split(',');
      const name = rest.join(':');
      if (type === 'registry') return allowed?.catalog ? [{ type, name, actions: ['*'] }] : [];
      const granted = actions.filter((a) => allowed?.actions.includes(a));
      return granted.length > 0 ? [{ type, name, actions: granted }] : [];
    });
    const now = Math.floor(Date.now() / 1000);
    const header = b64({ alg: 'RS256', typ: 'JWT', x5c: [certDer] });
    const claims = b64({
      iss: issuer,
      sub: user,
      aud: service,
      exp: now + 300,
      nbf: now - 10,
      iat: now,
      jti: randomUUID(),
      access,
    });
    const signer = createSign('RSA-SHA256');
    signer.update(`${header}.${claims}`);
    return `${header}.${claims}.${b64(signer.sign(key))}`;
  }

  const answer = (req: IncomingMessage, res: ServerResponse, form: URLSearchParams) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const refresh = req.method === 'POST' && form.get('grant_type') === 'refresh_token';
    const scopes = (refresh ? form : url.searchParams).getAll('scope');
    requested.push(...scopes);
    if (refresh) {
      const user = Object.keys(users).find(
        (name) =>
          users[name]?.refreshToken && users[name]?.refreshToken === form.get('refresh_token'),
      );
      if (!user) {
        res.writeHead(401, { 'content-type': 'application/json' }).end('{"details":"bad token"}');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ access_token: mint(user, scopes), expires_in: 300 }));
      return;
    }
    const auth = req.headers.authorization ?? '';
    const [user, password] = auth.startsWith('Basic ')
      ? Buffer.from(auth.slice(6), 'base64').toString().split(':')
      : ['', ''];
    if (!user || users[user]?.password !== password) {
      res
        .writeHead(401, { 'content-type': 'application/json' })
        .end('{"details":"bad credentials"}');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ token: mint(user, scopes), expires_in: 300 }));
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => answer(req, res, new URLSearchParams(Buffer.concat(chunks).toString())));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    realm: `http://127.0.0.1:${port}/token`,
    service,
    issuer,
    certPath,
    requested,
    mint,
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
