/**
 * A throw-away certificate authority for TLS tests, made with the openssl command line (Node has
 * no API to issue certificates): a CA, and certificates it signs for 127.0.0.1 (IP and DNS SANs),
 * written as PEM files in a fresh temporary folder that the test's after() removes.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface IssuedCertificate {
  certFile: string;
  keyFile: string;
  cert: string;
  key: string;
}

export interface TestCa {
  folder: string;
  caFile: string;
  ca: string;
  /** A certificate for `name` (CN) valid for 127.0.0.1 and localhost, signed by this CA. */
  issue(name: string): Promise<IssuedCertificate>;
}

export async function createTestCa(t: Pick<TestContext, 'after'>, name = 'ctd test CA'): Promise<TestCa> {
  const folder = await mkdtemp(join(tmpdir(), 'ctd-ca-'));
  t.after(() => rm(folder, { recursive: true, force: true }));
  const caKey = join(folder, 'ca.key');
  const caFile = join(folder, 'ca.pem');
  await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', caKey, '-out', caFile, '-days', '2', '-subj', `/CN=${name}`]);
  let serial = 1;
  return {
    folder,
    caFile,
    ca: await readFile(caFile, 'utf8'),
    async issue(commonName: string): Promise<IssuedCertificate> {
      const base = join(folder, commonName.replace(/[^A-Za-z0-9]/g, '_'));
      const keyFile = `${base}.key`;
      const certFile = `${base}.pem`;
      const extFile = `${base}.ext`;
      await writeFile(extFile, 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n');
      await run('openssl', ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile, '-out', `${base}.csr`, '-subj', `/CN=${commonName}`]);
      await run('openssl', ['x509', '-req', '-in', `${base}.csr`, '-CA', caFile, '-CAkey', caKey, '-set_serial', String(serial++), '-days', '2', '-extfile', extFile, '-out', certFile]);
      return { certFile, keyFile, cert: await readFile(certFile, 'utf8'), key: await readFile(keyFile, 'utf8') };
    },
  };
}
