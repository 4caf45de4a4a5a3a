// Matchers shared by tests.
import type { S3Client } from '@aws-sdk/client-s3';
import type { EC2Client } from '@aws-sdk/client-ec2';

/** A pattern for t.throws/t.rejects that matches a Denial with this reason. */
export function denial(reason: string, message?: RegExp): Error {
  return { reason, ...(message ? { message } : {}) } as unknown as Error;
}

type Handler = (args: { request: unknown }) => Promise<unknown>;
interface BuildStack {
  add(mw: (next: Handler) => Handler, opts: { step: 'build'; name?: string }): void;
}

/** Add headers to every request a v3 client sends (before signing, so they are signed). */
export function addHeaders(client: S3Client | EC2Client, headers: Record<string, string>): void {
  (client.middlewareStack as unknown as BuildStack).add(
    (next) => async (args) => {
      Object.assign((args.request as { headers: Record<string, string> }).headers, headers);
      return next(args);
    },
    { step: 'build', name: 'keyfenceTestHeaders' },
  );
}
