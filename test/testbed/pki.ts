// Certificates and keys for the test bed, made with the openssl CLI (no npm crypto
// deps, and the output is byte-for-byte what an operator would produce by hand).
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export interface Pki {
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  saKey: string;
  saPub: string;
}

const openssl = (args: string[], cwd: string) => execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });

export function generatePki(dir: string): Pki {
  fs.mkdirSync(dir, { recursive: true });
  const p = (f: string) => path.join(dir, f);
  const days = '3650';

  openssl(
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', days,
      '-subj', '/CN=tessera-testbed-ca',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign,digitalSignature'],
    dir,
  );

  const leaf = (name: string, subject: string, ext: string) => {
    fs.writeFileSync(p(`${name}.ext`), ext);
    openssl(['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject], dir);
    openssl(
      ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial',
        '-out', `${name}.crt`, '-days', days, '-sha256', '-extfile', `${name}.ext`],
      dir,
    );
    fs.rmSync(p(`${name}.csr`));
    fs.rmSync(p(`${name}.ext`));
  };

  // The in-cluster names and the service IP are there so real clients inside a
  // (future) pod network would also verify; the brief only needs loopback.
  leaf(
    'apiserver',
    '/CN=kube-apiserver',
    [
      'basicConstraints=CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage=serverAuth',
      'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,IP:10.96.0.1',
      '',
    ].join('\n'),
  );
  leaf(
    'client-admin',
    '/O=system:masters/CN=cert-admin',
    ['basicConstraints=CA:FALSE', 'keyUsage=critical,digitalSignature,keyEncipherment', 'extendedKeyUsage=clientAuth', ''].join('\n'),
  );

  openssl(['genrsa', '-out', 'sa.key', '2048'], dir);
  openssl(['rsa', '-in', 'sa.key', '-pubout', '-out', 'sa.pub'], dir);
  for (const f of fs.readdirSync(dir)) if (f.endsWith('.key')) fs.chmodSync(p(f), 0o600);

  return {
    caCert: p('ca.crt'),
    caKey: p('ca.key'),
    serverCert: p('apiserver.crt'),
    serverKey: p('apiserver.key'),
    clientCert: p('client-admin.crt'),
    clientKey: p('client-admin.key'),
    saKey: p('sa.key'),
    saPub: p('sa.pub'),
  };
}

export const randomToken = (): string => crypto.randomBytes(24).toString('base64url');
