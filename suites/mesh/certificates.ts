/**
 * Certificates for the mTLS variant, generated per run with openssl on the host into a
 * temporary folder that is removed at once: a CA, Envoy's server certificate, a client
 * certificate, the backend's certificate, and a client certificate from another CA.
 * Never committed, never reused between runs.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Pem {
  readonly cert: string;
  readonly key: string;
}

export interface MeshCertificates {
  readonly ca: string;
  readonly server: Pem;
  readonly client: Pem;
  readonly backend: Pem;
  readonly foreignClient: Pem;
}

function openssl(dir: string, args: string[]): void {
  try {
    execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString() ?? String(error);
    throw new Error(`openssl ${args[0]} failed (is openssl installed? apt-get install openssl): ${stderr.trim().split('\n').pop()}`, {
      cause: error,
    });
  }
}

function authority(dir: string, name: string): void {
  openssl(dir, [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-days',
    '2',
    '-subj',
    `/CN=${name}`,
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.crt`,
  ]);
}

function issue(dir: string, ca: string, name: string, sans: string, usage: 'serverAuth' | 'clientAuth'): Pem {
  openssl(dir, [
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-subj',
    `/CN=${name}`,
    '-keyout',
    `${name}.key`,
    '-out',
    `${name}.csr`,
  ]);
  writeFileSync(join(dir, `${name}.ext`), `subjectAltName=${sans}\nextendedKeyUsage=${usage}\n`);
  openssl(dir, [
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    `${ca}.crt`,
    '-CAkey',
    `${ca}.key`,
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    `${name}.ext`,
    '-out',
    `${name}.crt`,
  ]);
  return { cert: readFileSync(join(dir, `${name}.crt`), 'utf8'), key: readFileSync(join(dir, `${name}.key`), 'utf8') };
}

export function generateMeshCertificates(envoyNames: readonly string[]): MeshCertificates {
  const dir = mkdtempSync(join(tmpdir(), 'bss-mesh-tls-'));
  try {
    authority(dir, 'bss-mesh-ca');
    authority(dir, 'other-ca');
    const serverSans = ['DNS:localhost', 'IP:127.0.0.1', ...envoyNames.map((n) => `DNS:${n}`)].join(',');
    return {
      ca: readFileSync(join(dir, 'bss-mesh-ca.crt'), 'utf8'),
      server: issue(dir, 'bss-mesh-ca', 'envoy', serverSans, 'serverAuth'),
      client: issue(dir, 'bss-mesh-ca', 'client', 'DNS:client', 'clientAuth'),
      backend: issue(dir, 'bss-mesh-ca', 'backend', 'DNS:backend', 'serverAuth'),
      foreignClient: issue(dir, 'other-ca', 'intruder', 'DNS:intruder', 'clientAuth'),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Files Envoy's TLS variant reads (see fixtures/services/envoy-variants.ts, withMtls). */
export function envoyTlsFiles(certs: MeshCertificates): Record<string, string> {
  return {
    '/etc/envoy/tls/ca.crt': certs.ca,
    '/etc/envoy/tls/server.crt': certs.server.cert,
    '/etc/envoy/tls/server.key': certs.server.key,
    '/etc/envoy/tls/client.crt': certs.client.cert,
    '/etc/envoy/tls/client.key': certs.client.key,
  };
}
