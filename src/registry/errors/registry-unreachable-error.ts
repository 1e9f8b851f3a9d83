import { RegpruneError } from '../../core/errors/regprune-error.js';

/** What a transport failure was, found in its cause chain, with what to do about it. */
export interface TransportCause {
  /** The system or TLS code, e.g. `ECONNREFUSED`, `ENOTFOUND`, `ERR_SSL_WRONG_VERSION_NUMBER`. */
  code: string | undefined;
  /** The innermost message (fetch's own "fetch failed" says nothing). */
  detail: string;
  /** What to do, for a person. */
  advice: string;
}

const CERTIFICATE =
  /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|LEAF_SIGNATURE|ERR_TLS_CERT_ALTNAME_INVALID/;

/**
 * Reads fetch's cause chain (`TypeError: fetch failed` → `Error: connect ECONNREFUSED …`) for the
 * code that says what went wrong: a refused connection, an unknown host, TLS spoken to a plain-HTTP
 * server, an untrusted certificate, a reset or a timeout.
 */
export function transportCause(error: unknown): TransportCause {
  let code: string | undefined;
  let detail = error instanceof Error ? error.message : String(error);
  let current: unknown = error;
  for (let depth = 0; depth < 6 && current instanceof Error; depth++) {
    const own = (current as { code?: unknown }).code;
    if (typeof own === 'string') code = own;
    if (current.message && current.message !== 'fetch failed') detail = current.message;
    current = current.cause;
  }
  const text = `${code ?? ''} ${detail}`;
  let advice: string;
  if (/ECONNREFUSED/.test(text)) {
    advice =
      'nothing accepts connections there: check that the registry is running and the port is right';
  } else if (/ENOTFOUND|EAI_AGAIN|EAI_NONAME/.test(text)) {
    advice = 'the host name does not resolve: check its spelling and your DNS';
  } else if (
    /wrong version number|WRONG_VERSION_NUMBER|EPROTO|packet length too long/i.test(text)
  ) {
    advice =
      'the TLS handshake failed as if the server speaks plain HTTP: if it does, write the target as http://host:port (credentials go over plain HTTP only to loopback)';
  } else if (CERTIFICATE.test(text)) {
    advice =
      "the server's TLS certificate is not trusted: give RegistryClient the CA that signed it (`caFile` or `ca`), or fix the certificate";
  } else if (/ECONNRESET|EPIPE|UND_ERR_SOCKET|other side closed/i.test(text)) {
    advice = 'the connection was cut: check the registry and any proxy in between';
  } else if (/ETIMEDOUT|timed? ?out|no complete answer|UND_ERR_.*TIMEOUT/i.test(text)) {
    advice =
      'no answer in time: check that the registry is up and not overloaded (RegistryClient takes `timeout` and `retry` options)';
  } else {
    advice = 'check that the registry is running and reachable';
  }
  return { code, detail, advice };
}

/** The registry could not be reached (connection refused or reset, timeout) after every retry. */
export class RegistryUnreachableError extends RegpruneError {
  declare readonly code: 'REGISTRY_UNREACHABLE';
  readonly method: string;
  readonly url: string;
  readonly attempts: number;
  /** The underlying system or TLS code (`ECONNREFUSED`, `ENOTFOUND`…), when there is one. */
  readonly causeCode: string | undefined;

  constructor(method: string, url: string, attempts: number, cause: unknown) {
    const found = transportCause(cause);
    const detail =
      found.code && !found.detail.includes(found.code)
        ? `${found.code}: ${found.detail}`
        : found.detail;
    super(
      'REGISTRY_UNREACHABLE',
      `${method} ${url} failed after ${attempts} attempt${attempts === 1 ? '' : 's'}: ${detail}; ${found.advice}`,
      { cause },
    );
    this.method = method;
    this.url = url;
    this.attempts = attempts;
    this.causeCode = found.code;
  }
}
