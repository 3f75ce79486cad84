// Runs s3rver in its own process (so tests may block their event loop on child processes, e.g.
// execFileSync('aws', ...), without starving the server). Prints {"port": N} once listening.
// Usage: node s3rver-process.js <directory> <bucket>...
const S3rver = require('s3rver');

const [directory, ...buckets] = process.argv.slice(2);
const server = new S3rver({
  address: '127.0.0.1',
  port: 0,
  silent: true,
  directory,
  configureBuckets: buckets.map((name) => ({ name, configs: [] })),
});
server.run().then((address) => {
  process.stdout.write(`${JSON.stringify({ port: address.port })}\n`);
});
process.on('SIGTERM', () => server.close().then(() => process.exit(0)));
process.on('disconnect', () => process.exit(0));
