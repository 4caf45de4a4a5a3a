// `keyfence certs init`: a local CA and server certificate for HTTPS.

import type { Command } from 'commander';
import { UsageError } from './common.js';

export function registerCerts(program: Command): void {
  program
    .command('certs')
    .description('TLS material for serving HTTPS.')
    .command('init')
    .description('Make a local CA and a server certificate for localhost, 127.0.0.1, ::1 and an S3 domain with its wildcard.')
    .option('--dir <dir>', 'where to write ca.pem, ca.key, server.pem, server.key', './certs')
    .option('--s3-domain <domain>', 'S3 domain for virtual-hosted buckets (certificate covers it and *.domain)', 's3.localhost')
    .option('--days <n>', 'validity in days', '365')
    .option('--force', 'replace existing files')
    .action(async (opts: { dir: string; s3Domain: string; days: string; force?: boolean }) => {
      // Loaded on demand: the X.509 library is not needed by any other command.
      const { initCerts } = await import('../tls/certs.js');
      let paths;
      try {
        paths = await initCerts({ dir: opts.dir, s3Domain: opts.s3Domain, days: Number(opts.days), force: opts.force === true });
      } catch (err) {
        throw new UsageError((err as Error).message);
      }
      process.stdout.write(
        [
          `wrote ${paths.caCert} (trust this: aws --ca-bundle, AWS_CA_BUNDLE, NODE_EXTRA_CA_CERTS)`,
          `wrote ${paths.caKey} (0600; keep it offline once you have issued what you need)`,
          `wrote ${paths.serverCert} and ${paths.serverKey} (0600)`,
          `serve with: keyfence serve --tls-cert ${paths.serverCert} --tls-key ${paths.serverKey} --s3-domain ${opts.s3Domain}`,
          '',
        ].join('\n'),
      );
    });
}
