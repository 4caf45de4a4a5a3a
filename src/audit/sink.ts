// The audit sink: one JSON line per event appended to DATA_DIR/audit.log
// through its own synchronous pino destination, so a record is in the file
// (not in a process buffer) when write() returns. Redaction by path is a
// second line of defence; records are built without secrets in the first place.

import pino from 'pino';
import { EVENT_VERSION, type AuditRecord } from './record.js';

export interface AuditSink {
  write(record: AuditRecord): void;
  close(): void;
}

export const REDACT_PATHS = [
  'secretAccessKey', 'sessionToken', 'signature', 'authorization',
  '*.secretAccessKey', '*.sessionToken', '*.signature', '*.authorization',
  'requestParameters["X-Amz-Signature"]', 'requestParameters["X-Amz-Security-Token"]',
];

export function openAuditSink(path: string): AuditSink {
  const destination = pino.destination({ dest: path, sync: true, mkdir: true, mode: 0o600 });
  const logger = pino(
    {
      base: undefined,
      timestamp: false,
      messageKey: 'auditMessage',
      // pino needs a non-empty level object (an empty one yields "{,"):
      // eventVersion takes its place, first on every line as in CloudTrail.
      formatters: { level: () => ({ eventVersion: EVENT_VERSION }) },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    },
    destination,
  );
  return {
    write: (record) => {
      const { eventVersion: _v, ...rest } = record;
      logger.info(rest);
    },
    close: () => destination.end(),
  };
}

/** An in-memory sink for tests: counts and keeps records. */
export function memoryAuditSink(): AuditSink & { records: AuditRecord[] } {
  const records: AuditRecord[] = [];
  return { records, write: (r) => void records.push(r), close: () => undefined };
}
