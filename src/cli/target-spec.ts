import type { CommandName } from './errors.js';
import { UsageError } from './errors.js';

/** A target as written on the command line, parsed. */
export type TargetSpec =
  | {
      kind: 'registry';
      /** e.g. `https://registry.example.com` or `http://127.0.0.1:5000` (no trailing slash). */
      url: string;
      /** `host[:port]`, the key of Docker's config. */
      host: string;
    }
  | {
      kind: 'layout';
      /** The directory as written after `oci:` (resolved against the working directory later). */
      dir: string;
    };

/** `scheme://…@` or a bare `…@` before the first `/`: user information (a login, a token). */
const USERINFO = /^(?:[a-z][a-z0-9+.-]*:\/\/)?[^/?#]*@/i;

const HOST = /^(?:\[[0-9a-f:.]+\]|[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?)(?::\d{1,5})?$/i;

/** Loopback hosts get plain HTTP when no scheme is written: a local registry rarely has TLS. */
function isLoopbackHost(host: string): boolean {
  const name = host.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  return name === 'localhost' || name === '::1' || /^127\.\d+\.\d+\.\d+$/.test(name);
}

/**
 * Parses `<target>`: `oci:DIR` (an OCI image layout), `https://host[:port]`, `http://host[:port]`,
 * or a bare `host[:port]` (HTTPS, except `localhost` and `127.x.x.x`, which get HTTP).
 * @throws {UsageError} naming `<target>` when it is none of these.
 */
export function parseTarget(command: CommandName, text: string): TargetSpec {
  const usage = (problem: string) => new UsageError(command, '<target>', problem);
  if (text.startsWith('oci:')) {
    const dir = text.slice(4);
    if (dir === '') throw usage('oci: needs a directory, e.g. oci:./layout');
    return { kind: 'layout', dir };
  }
  // Checked before anything else looks at the text, so that no message can echo the secret.
  if (USERINFO.test(text)) {
    throw usage(
      'credentials in the URL are not accepted (they end up in logs and shell history); use Docker config, --username with --password-stdin, or REGPRUNE_USERNAME/REGPRUNE_PASSWORD',
    );
  }
  let url: URL;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    try {
      url = new URL(text);
    } catch {
      throw usage(`${JSON.stringify(text)} is not a valid URL`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw usage(
        `${url.protocol}// is not supported; use https://host[:port], http://host[:port] or oci:DIR`,
      );
    }
    if (url.search || url.hash) throw usage('a registry URL takes no query or fragment');
  } else {
    const host = text.replace(/\/+$/, '');
    if (!HOST.test(host)) {
      throw usage(
        `${JSON.stringify(text)} is neither a registry (https://host[:port], host[:port]) nor an OCI layout (oci:DIR)`,
      );
    }
    url = new URL(`${isLoopbackHost(host) ? 'http' : 'https'}://${host}`);
  }
  const path = url.pathname.replace(/\/+$/, '');
  return { kind: 'registry', url: `${url.origin}${path}`, host: url.host };
}
