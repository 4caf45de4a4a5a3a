// `keyfence serve`: validate every option, load roles and key material, and
// run the gateway. Policies reload on SIGHUP and on file change, atomically;
// both outcomes are audited.

import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { Option, type Command } from 'commander';
import { adminRecord } from '../audit/admin.js';
import type { AuditSink } from '../audit/sink.js';
import { openAuditStream } from '../audit/stream.js';
import { ConfigError, loadMasterCredential, parseDuration, parseListen, parseTrustProxy, parseUpstream } from '../config/config.js';
import { GatewayMetrics } from '../metrics/metrics.js';
import { buildAdminApi } from '../admin/api.js';
import { AdminTokenStore } from '../admin/tokens.js';
import { Lockout } from '../net/lockout.js';
import { RoleStore } from '../policy/load.js';
import { createUpstreamClient } from '../proxy/client.js';
import { awsUpstreams, type TrailerHandling } from '../proxy/forward.js';
import { createAssumedRoleSigner, createMasterSigner, type MasterSigner, type RefreshingSigner } from '../proxy/master-signer.js';
import { AssumeRoleError } from '../proxy/sts-client.js';
import { buildGateway } from '../server/gateway.js';
import { LOGGER_OPTIONS } from '../server/logging.js';
import { loadKeyMaterial } from '../subkeys/material.js';
import { openSubkeyStore } from '../subkeys/store.js';
import { SubkeyService } from '../subkeys/subkeys.js';

interface Log {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/** Reload roles on SIGHUP and on changes under the policies dir (debounced). */
export function watchPolicies(dir: string, roles: RoleStore, audit: AuditSink, log: Log): () => void {
  const reload = (trigger: string) => {
    const result = roles.reload();
    const base = { actor: 'keyfence', sourceIPAddress: 'local', nowMs: Date.now() };
    if (result.ok) {
      audit.write(adminRecord({ ...base, eventName: 'PolicyReloaded', requestParameters: { trigger, dir }, responseElements: { roles: result.roles, warnings: result.warnings.length } }));
      log.info({ trigger, roles: result.roles }, 'policies reloaded');
      for (const w of result.warnings) log.warn({ warning: w }, 'policy warning');
    } else {
      audit.write(adminRecord({ ...base, eventName: 'PolicyReloadFailed', requestParameters: { trigger, dir }, errorCode: 'InvalidPolicy', errorMessage: result.error }));
      log.warn({ trigger, error: result.error }, 'policy reload failed; the previous policies stay in force');
    }
  };
  let timer: NodeJS.Timeout | undefined;
  const onChange = () => {
    clearTimeout(timer);
    timer = setTimeout(() => reload('file-change'), 200);
  };
  const watchers: FSWatcher[] = [];
  for (const d of [dir, join(dir, 'managed')]) {
    try {
      watchers.push(watch(d, onChange));
    } catch {
      // managed/ is optional
    }
  }
  const onHup = () => reload('SIGHUP');
  process.on('SIGHUP', onHup);
  return () => {
    clearTimeout(timer);
    for (const w of watchers) w.close();
    process.off('SIGHUP', onHup);
  };
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('Run the gateway.')
    .option('--listen <host:port>', 'address to listen on', '127.0.0.1:8080')
    .option('--data-dir <dir>', 'subkeys, token key and audit log', './data')
    .option('--policies <dir>', 'role policies (ROLE.json)', './policies')
    .option('--upstream-ec2 <url>', 'EC2 endpoint (default https://ec2.REGION.amazonaws.com)')
    .option('--upstream-s3 <url>', 'S3 endpoint (default https://s3.REGION.amazonaws.com)')
    .option('--upstream-ca <file>', 'PEM trust anchors for an https upstream with a private CA (the system store is used otherwise)')
    .option('--trust-proxy <cidrs>', 'believe X-Forwarded-For only from these peers')
    .option('--master-credentials <file>', 'AWS shared-credentials file with the master key (mode 0600)')
    .option('--master-profile <name>', 'profile in --master-credentials', 'default')
    .option('--master-role-arn <arn>', 'sign with short-lived credentials from sts:AssumeRole on this role (refreshed before expiry); the master key then only signs AssumeRole')
    .option('--master-role-session-name <name>', 'RoleSessionName for --master-role-arn', 'keyfence')
    .option('--master-role-duration <duration>', 'lifetime asked of each assumed-role credential (15m-12h)', '1h')
    .option('--sts-endpoint <url>', 'STS endpoint for --master-role-arn (default https://sts.STS-REGION.amazonaws.com)')
    .option('--sts-region <region>', 'region of the STS endpoint', 'us-east-1')
    .option('--account-id <id>', 'account id used in EC2 ARNs (policies may write *)', '*')
    .option('--max-form-body <bytes>', 'largest EC2 form body read', '1048576')
    .option('--s3-domain <domain>', 'serve virtual-hosted buckets: Host bucket.DOMAIN names the bucket')
    .addOption(new Option('--s3-upstream-trailers <mode>', 'aws-chunked uploads with trailers: forward them (AWS S3) or decode and check them (S3-compatible servers without trailer support)').choices(['forward', 'decode']).default('forward'))
    .option('--lockout-threshold <n>', 'authentication failures from one address within the window that lock it out (0 disables)', '20')
    .option('--lockout-window <duration>', 'window in which failures are counted', '60s')
    .option('--lockout-duration <duration>', 'how long a locked-out address is refused (503 SlowDown / RequestLimitExceeded)', '5m')
    .option('--admin-listen <host:port>', 'admin API listener (issue/list/rotate/revoke keys, /healthz, /readyz, /metrics); "off" disables it', '127.0.0.1:9090')
    .option('--admin-tls-cert <file>', 'serve the admin API over HTTPS with this certificate (defaults to --tls-cert)')
    .option('--admin-tls-key <file>', 'private key for --admin-tls-cert (defaults to --tls-key)')
    .option('--admin-client-ca <file>', 'require admin clients to present a certificate signed by this CA (needs TLS)')
    .option('--audit-rotate-size <bytes>', 'start a new audit file when the live one reaches this size (0: never)', String(64 * 1024 * 1024))
    .option('--audit-rotate-interval <duration>', 'start a new audit file this often', '24h')
    .option('--audit-digest-interval <duration>', 'seal the audit chain with a signed digest this often', '60s')
    .option('--audit-fsync', 'fsync every audit record (survives power loss, at a large cost per call)')
    .option('--tls-cert <file>', 'serve HTTPS with this certificate (PEM; see keyfence certs init)')
    .option('--tls-key <file>', 'private key for --tls-cert (PEM, mode 0600)')
    .addOption(new Option('--log-level <level>', 'operational log level').choices(['fatal', 'error', 'warn', 'info', 'debug']).default('info'))
    .action(async (opts: Record<string, string | undefined>) => {
      const listen = parseListen(opts['listen'] as string);
      const master = loadMasterCredential({ file: opts['masterCredentials'], profile: opts['masterProfile'] });
      const accountId = opts['accountId'] as string;
      if (!/^(\*|\d{12})$/.test(accountId)) throw new ConfigError('--account-id must be 12 digits or *');
      const maxFormBody = Number(opts['maxFormBody']);
      if (!Number.isInteger(maxFormBody) || maxFormBody < 1024 || maxFormBody > 64 * 1024 * 1024) {
        throw new ConfigError('--max-form-body must be a whole number of bytes between 1024 and 67108864');
      }
      const upstream = awsUpstreams({ ec2: parseUpstream(opts['upstreamEc2'], '--upstream-ec2'), s3: parseUpstream(opts['upstreamS3'], '--upstream-s3') });
      const trustProxy = parseTrustProxy(opts['trustProxy']);
      const dataDir = opts['dataDir'] as string;
      const policiesDir = opts['policies'] as string;
      const roles = new RoleStore(policiesDir);
      const material = loadKeyMaterial(dataDir);
      const store = openSubkeyStore(dataDir);
      let logWarn: (obj: object, msg: string) => void = () => undefined;
      let logInfo: (obj: object, msg: string) => void = () => undefined;
      const subkeys = new SubkeyService({
        store, material, now: Date.now, role: (r) => roles.get(r),
        lastUse: { onError: (err) => logWarn({ err: { message: (err as Error).message } }, 'could not record last use of keys') },
      });
      const rotateBytes = Number(opts['auditRotateSize']);
      if (!Number.isInteger(rotateBytes) || rotateBytes < 0) throw new ConfigError('--audit-rotate-size must be a whole number of bytes (0: never)');
      const audit = openAuditStream(dataDir, 'gateway', {
        rotateBytes,
        rotateMs: parseDuration(opts['auditRotateInterval'] as string, '--audit-rotate-interval'),
        digestIntervalMs: parseDuration(opts['auditDigestInterval'] as string, '--audit-digest-interval'),
        fsync: opts['auditFsync'] !== undefined,
      });
      let signer: MasterSigner | undefined = master ? createMasterSigner(master) : undefined;
      let refreshing: RefreshingSigner | undefined;
      const roleArn = opts['masterRoleArn'];
      if (roleArn !== undefined) {
        if (!master) throw new ConfigError('--master-role-arn needs a master credential to assume the role with');
        if (!/^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/.test(roleArn)) throw new ConfigError('--master-role-arn must be an IAM role ARN (arn:aws:iam::123456789012:role/NAME)');
        const durationMs = parseDuration(opts['masterRoleDuration'] as string, '--master-role-duration');
        if (durationMs < 15 * 60_000 || durationMs > 12 * 3600_000) throw new ConfigError('--master-role-duration must be between 15m and 12h');
        const sessionName = opts['masterRoleSessionName'] as string;
        if (!/^[\w+=,.@-]{2,64}$/.test(sessionName)) throw new ConfigError('--master-role-session-name must be 2-64 characters of letters, digits and _+=,.@-');
        const stsRegion = opts['stsRegion'] as string;
        const endpoint = parseUpstream(opts['stsEndpoint'], '--sts-endpoint') ?? new URL(`https://sts.${stsRegion}.amazonaws.com`);
        try {
          refreshing = await createAssumedRoleSigner(master, {
            roleArn, sessionName, durationSeconds: Math.round(durationMs / 1000), endpoint, region: stsRegion, now: Date.now,
            log: { info: (o, m) => logInfo(o, m), warn: (o, m) => logWarn(o, m) },
          });
        } catch (err) {
          if (err instanceof AssumeRoleError) throw new ConfigError(err.message);
          throw err;
        }
        signer = refreshing;
      }
      const s3Domain = opts['s3Domain'];
      if (s3Domain !== undefined && !/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/i.test(s3Domain)) {
        throw new ConfigError('--s3-domain must be a DNS name such as s3.localhost');
      }
      if ((opts['tlsCert'] === undefined) !== (opts['tlsKey'] === undefined)) throw new ConfigError('--tls-cert and --tls-key go together');
      let https: { key: Buffer; cert: Buffer } | undefined;
      if (opts['tlsCert'] && opts['tlsKey']) {
        try {
          https = { cert: readFileSync(opts['tlsCert']), key: readFileSync(opts['tlsKey']) };
        } catch (err) {
          throw new ConfigError(`--tls-cert/--tls-key: cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
        }
      }
      const threshold = Number(opts['lockoutThreshold']);
      if (!Number.isInteger(threshold) || threshold < 0 || threshold > 1_000_000) throw new ConfigError('--lockout-threshold must be a whole number (0 disables lockout)');
      const lockoutOptions = {
        threshold,
        windowMs: parseDuration(opts['lockoutWindow'] as string, '--lockout-window'),
        durationMs: parseDuration(opts['lockoutDuration'] as string, '--lockout-duration'),
      };
      const lockout = new Lockout(lockoutOptions);
      const metrics = new GatewayMetrics();
      const readFile = (path: string, option: string) => {
        try {
          return readFileSync(path);
        } catch (err) {
          throw new ConfigError(`${option} ${path}: cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
        }
      };
      let upstreamCa: Buffer | undefined;
      if (opts['upstreamCa']) {
        upstreamCa = readFile(opts['upstreamCa'], '--upstream-ca');
        if (!upstreamCa.includes('-----BEGIN CERTIFICATE-----')) throw new ConfigError(`--upstream-ca ${opts['upstreamCa']}: expected PEM certificates (-----BEGIN CERTIFICATE-----)`);
      }
      const client = createUpstreamClient(upstreamCa ? { ca: upstreamCa } : {});
      const adminListen = opts['adminListen'] === 'off' ? undefined : parseListen(opts['adminListen'] as string, '--admin-listen');
      const adminCert = opts['adminTlsCert'] ?? opts['tlsCert'];
      const adminKey = opts['adminTlsKey'] ?? opts['tlsKey'];
      if ((adminCert === undefined) !== (adminKey === undefined)) throw new ConfigError('--admin-tls-cert and --admin-tls-key go together');
      if (opts['adminClientCa'] && !adminCert) throw new ConfigError('--admin-client-ca needs TLS on the admin listener (--admin-tls-cert/--admin-tls-key or --tls-cert/--tls-key)');
      const adminHttps = adminCert && adminKey
        ? {
            cert: readFile(adminCert, '--admin-tls-cert'),
            key: readFile(adminKey, '--admin-tls-key'),
            ...(opts['adminClientCa'] ? { ca: readFile(opts['adminClientCa'], '--admin-client-ca'), requestCert: true, rejectUnauthorized: true } : {}),
          }
        : undefined;
      const app = buildGateway({
        onAuthenticated: (keyId, at, from) => subkeys.noteUse(keyId, at, from),
        subkeys, roles, signer, audit, client, now: Date.now, upstream, trustProxy, accountId, maxFormBody, lockout, metrics,
        ...(s3Domain ? { s3Domain } : {}),
        trailers: opts['s3UpstreamTrailers'] as TrailerHandling,
        ...(https ? { https } : {}),
        logger: { ...LOGGER_OPTIONS, level: opts['logLevel'] as string },
      });
      const address = await app.listen({ host: listen.host, port: listen.port });
      logWarn = (obj, msg) => app.log.warn(obj, msg);
      logInfo = (obj, msg) => app.log.info(obj, msg);
      audit.setLog(app.log);
      let adminTokens: AdminTokenStore | undefined;
      let admin: ReturnType<typeof buildAdminApi> | undefined;
      if (adminListen) {
        adminTokens = new AdminTokenStore(dataDir);
        admin = buildAdminApi({
          subkeys, adminTokens, audit, roles, now: Date.now, metrics: metrics.registry,
          // Same settings as the gateway's, counted separately: failing one does not lock the other.
          lockout: new Lockout(lockoutOptions),
          ready: () => app.server.listening,
          logger: { ...LOGGER_OPTIONS, level: opts['logLevel'] as string },
          ...(adminHttps ? { https: adminHttps } : {}),
        });
        const adminAddress = await admin.listen({ host: adminListen.host, port: adminListen.port });
        app.log.info({ adminAddress, tls: adminHttps !== undefined, clientCertificates: adminHttps?.requestCert === true }, 'admin API is serving');
      }
      app.log.info({ address, masterKey: signer?.keyIdHint ?? 'none', roles: roles.names(), dataDir }, 'keyfence is serving');
      for (const w of roles.warnings) app.log.warn({ warning: w }, 'policy warning');
      if (!signer) {
        app.log.warn(
          'no master credential (KEYFENCE_MASTER_ACCESS_KEY_ID/KEYFENCE_MASTER_SECRET_ACCESS_KEY or --master-credentials): ' +
            'calls are authenticated, authorized and audited, then refused with 503 instead of forwarded',
        );
      }
      const stopWatching = watchPolicies(policiesDir, roles, audit, app.log);
      const stop = () => {
        app.log.info('shutting down');
        stopWatching();
        void app.close().then(async () => {
          refreshing?.close();
          await admin?.close();
          await client.close();
          subkeys.flush();
          store.close();
          adminTokens?.close();
          audit.close();
          process.exit(0);
        });
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
}
