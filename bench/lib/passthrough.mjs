// The bench's bare passthrough: fastify + @fastify/http-proxy in front of
// the upstream, logging off, no auth, no audit. What keyfence is compared to.
import Fastify from 'fastify';
import proxy from '@fastify/http-proxy';

const upstream = process.argv[2];
const app = Fastify({ logger: false });
app.removeAllContentTypeParsers();
app.addContentTypeParser('*', (_req, payload, done) => done(null, payload));
await app.register(proxy, { upstream, http: {} , replyOptions: {} });
const address = await app.listen({ host: '127.0.0.1', port: 0 });
console.log(`listening ${address}`);
process.on('SIGTERM', () => process.exit(0));
