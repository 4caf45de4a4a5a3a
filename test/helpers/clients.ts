// Real AWS clients for integration tests: awscli v1 (`aws` on PATH), Debian's
// awscli v2 (/usr/bin/aws), boto3 (python3). Each runs with only the subkey in
// its environment: no config files, no metadata service, one attempt.

import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { IssuedCredentials } from '../../src/subkeys/subkeys.js';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export const AWS_V2 = '/usr/bin/aws';

function clientEnv(creds: Pick<IssuedCredentials, 'accessKeyId' | 'secretAccessKey' | 'sessionToken'>, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env['PATH'] ?? '/usr/bin:/bin',
    HOME: process.env['HOME'] ?? '/tmp',
    PYENV_ROOT: process.env['PYENV_ROOT'] ?? '',
    PYENV_VERSION: process.env['PYENV_VERSION'] ?? '',
    AWS_ACCESS_KEY_ID: creds.accessKeyId,
    AWS_SECRET_ACCESS_KEY: creds.secretAccessKey,
    AWS_SESSION_TOKEN: creds.sessionToken,
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_REGION: 'us-east-1',
    AWS_CONFIG_FILE: '/nonexistent/keyfence-test-config',
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/keyfence-test-credentials',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_MAX_ATTEMPTS: '1',
    AWS_RETRY_MODE: 'standard',
    AWS_PAGER: '',
    ...extra,
  };
}

function run(file: string, args: string[], env: NodeJS.ProcessEnv, input?: string): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = execFile(file, args, { env, timeout: 60_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as NodeJS.ErrnoException & { code?: unknown }).code === 'number' ? (err as unknown as { code: number }).code : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

export function awsCli(bin: string, endpoint: string, creds: Pick<IssuedCredentials, 'accessKeyId' | 'secretAccessKey' | 'sessionToken'>, args: string[], env: Record<string, string> = {}): Promise<RunResult> {
  return run(bin, ['--endpoint-url', endpoint, '--region', 'us-east-1', '--output', 'json', ...args], clientEnv(creds, env));
}

/** Run a boto3 snippet; `client(service)` is predefined, pointed at keyfence. Prints JSON to stdout. */
export function boto3(endpoint: string, creds: Pick<IssuedCredentials, 'accessKeyId' | 'secretAccessKey' | 'sessionToken'>, body: string, caBundle?: string): Promise<RunResult> {
  const script = [
    'import json, sys, boto3, botocore',
    'from botocore.config import Config',
    'from botocore.exceptions import ClientError',
    `def client(service, **kw): return boto3.client(service, endpoint_url=${JSON.stringify(endpoint)}, region_name="us-east-1", verify=${caBundle ? JSON.stringify(caBundle) : 'None'}, config=Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"}, **kw))`,
    'def error_code(fn):',
    '    try:',
    '        fn()',
    '        return None',
    '    except ClientError as e:',
    '        return e.response["Error"]["Code"]',
    body,
  ].join('\n');
  return run('python3', ['-c', script], clientEnv(creds));
}

export function hasAwsV2(): boolean {
  return existsSync(AWS_V2);
}
