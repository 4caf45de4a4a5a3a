// A local CA and a server certificate for serving keyfence over HTTPS on a
// developer machine or inside a private network: localhost, 127.0.0.1, ::1
// and an S3 domain with its wildcard (virtual-hosted buckets). ECDSA P-256.
// Private keys are written with mode 0600 and never overwritten silently.

import { webcrypto } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

type KeyPair = webcrypto.CryptoKeyPair;

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

export interface CertsOptions {
  readonly dir: string;
  readonly s3Domain: string;
  readonly days: number;
  readonly force: boolean;
  readonly now?: Date;
}

export const CERT_FILES = { caCert: 'ca.pem', caKey: 'ca.key', serverCert: 'server.pem', serverKey: 'server.key' } as const;

async function pemKey(key: webcrypto.CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key));
  return `-----BEGIN PRIVATE KEY-----\n${der.toString('base64').match(/.{1,64}/g)?.join('\n')}\n-----END PRIVATE KEY-----\n`;
}

function serial(): string {
  return Buffer.from(webcrypto.getRandomValues(new Uint8Array(16))).toString('hex').replace(/^[89a-f]/, '1');
}

export async function initCerts(opts: CertsOptions): Promise<Record<keyof typeof CERT_FILES, string>> {
  const paths = Object.fromEntries(Object.entries(CERT_FILES).map(([k, f]) => [k, join(opts.dir, f)])) as Record<keyof typeof CERT_FILES, string>;
  const existing = Object.values(paths).filter((p) => existsSync(p));
  if (existing.length > 0 && !opts.force) throw new Error(`${existing.join(', ')} already exist; pass --force to replace them`);
  if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/i.test(opts.s3Domain)) throw new Error('--s3-domain must be a DNS name');
  if (!Number.isInteger(opts.days) || opts.days < 1 || opts.days > 825) throw new Error('--days must be 1-825');
  const notBefore = opts.now ?? new Date();
  const notAfter = new Date(notBefore.getTime() + opts.days * 86_400_000);

  const caKeys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as KeyPair;
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: 'CN=keyfence local CA',
    notBefore,
    notAfter,
    keys: caKeys,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });

  const serverKeys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as KeyPair;
  const server = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: 'CN=localhost',
    issuer: ca.subject,
    notBefore,
    notAfter,
    signingKey: caKeys.privateKey,
    publicKey: serverKeys.publicKey,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([
        { type: 'dns', value: 'localhost' },
        { type: 'dns', value: opts.s3Domain },
        { type: 'dns', value: `*.${opts.s3Domain}` },
        { type: 'ip', value: '127.0.0.1' },
        { type: 'ip', value: '::1' },
      ]),
      await x509.AuthorityKeyIdentifierExtension.create(ca),
    ],
  });

  mkdirSync(opts.dir, { recursive: true });
  const writePrivate = (path: string, text: string) => {
    writeFileSync(path, text, { mode: 0o600 });
    chmodSync(path, 0o600);
  };
  writeFileSync(paths.caCert, ca.toString('pem') + '\n');
  writePrivate(paths.caKey, await pemKey(caKeys.privateKey));
  writeFileSync(paths.serverCert, server.toString('pem') + '\n');
  writePrivate(paths.serverKey, await pemKey(serverKeys.privateKey));
  return paths;
}
