// Operational log settings: structured pino lines on stdout, redacted by
// path, and requests serialised without their query string (presigned URLs
// carry signatures and tokens there).

import type { FastifyServerOptions } from 'fastify';

export const LOGGER_OPTIONS = {
  redact: {
    paths: [
      'req.headers.authorization',
      'req.headers["x-amz-security-token"]',
      'headers.authorization',
      'headers["x-amz-security-token"]',
      '*.secretAccessKey',
      '*.sessionToken',
    ],
    censor: '[redacted]',
  },
  serializers: {
    req: (req: { method?: string; url?: string; socket?: { remoteAddress?: string } }) => ({
      method: req.method,
      path: (req.url ?? '').split('?')[0],
      remoteAddress: req.socket?.remoteAddress,
    }),
  },
} satisfies Exclude<FastifyServerOptions['logger'], boolean | undefined>;
