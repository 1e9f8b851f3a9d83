/**
 * A private certificate authority and a server certificate for 127.0.0.1, made with the `openssl`
 * CLI, for HTTPS tests (a registry with `tls`, or a TLS test server).
 */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TestCertificates {
  /** PEM file of the private CA (what a client's `caFile` trusts). */
  caFile: string;
  /** PEM file of the server certificate for IP 127.0.0.1, signed by the CA. */
  certificate: string;
  /** PEM file of the server certificate's key. */
  key: string;
}

/** Writes a CA and a 127.0.0.1 server certificate into `dir`. */
export async function makeCertificates(dir: string): Promise<TestCertificates> {
  const ssl = (...args: string[]) => run('openssl', args, { cwd: dir });
  await ssl(
    ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt'],
    ...['-days', '2', '-subj', '/CN=regprune test CA'],
    ...['-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=keyCertSign,cRLSign'],
  );
  await ssl(
    ...['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr'],
    ...['-subj', '/CN=127.0.0.1'],
  );
  await writeFile(
    join(dir, 'ext.cnf'),
    'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n',
  );
  await ssl(
    ...['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key'],
    ...['-CAcreateserial', '-out', 'server.crt', '-days', '2', '-extfile', 'ext.cnf'],
  );
  return {
    caFile: join(dir, 'ca.crt'),
    certificate: join(dir, 'server.crt'),
    key: join(dir, 'server.key'),
  };
}
