// Every denial reason in the catalogue is documented in docs/errors.md with
// the same AWS codes and statuses, and the docs name no reason that no
// longer exists.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { CATALOGUE } from '../../src/errors/catalog.js';

const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
const rows = new Map<string, string[]>();
for (const line of doc.split('\n')) {
  const m = /^\| `([A-Za-z0-9]+)` \|(.*)\|\s*$/.exec(line);
  if (!m) continue;
  rows.set(m[1] as string, (m[2] as string).split('|').map((c) => c.trim()));
}

t.ok(rows.size > 0, 'docs/errors.md has a reason table');
for (const [reason, entry] of Object.entries(CATALOGUE)) {
  t.test(reason, async (t) => {
    const cells = rows.get(reason);
    if (!t.ok(cells, `${reason} is documented in docs/errors.md`) || !cells) return;
    t.equal(cells[0], entry.eventType, 'event type');
    t.equal(cells[1], `\`${entry.s3.code}\` ${entry.s3.status}`, 'S3 code and status');
    t.equal(cells[2], `\`${entry.ec2.code}\` ${entry.ec2.status}`, 'EC2 code and status');
    t.ok((cells[3] ?? '').length > 10, 'says when it happens');
  });
}
t.test('no stale rows', async (t) => {
  for (const reason of rows.keys()) t.ok(reason in CATALOGUE, `${reason} is still a reason in the catalogue`);
});
