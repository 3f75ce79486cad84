// Jest runs TypeScript through SWC (type-checking is `tsc --noEmit`, a separate step of `npm test`).
// The project runs on Node 20 by decision; keep the AWS SDK's "Node 20 support ends" notice out of test output
// (the CLI does the same in lib/cloud/clients.ts). Jest's workers inherit this environment.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/** @type {import('jest').Config} */
module.exports = {
  // Node's environment, recording each file's CPU time for the slowest-files table printed at the end.
  testEnvironment: '<rootDir>/test/support/cpu-environment.js',
  reporters: ['default', '<rootDir>/test/support/slowest-reporter.js'],
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest'] },
  // Generous: with 3 workers and their child processes (trainer, s3rver, ssh, bash) the load reaches 20-30 on 2
  // cores, and a test that alone takes 4 s (publishing a param folder to s3rver) can take over a minute of wall time.
  testTimeout: 300_000,
  // Jest's default on 2 cores is 1 worker. Most heavy files wait on child processes (the trainer, bash with the
  // instance scripts, s3rver, ssh to the stand-in board), so 3 workers keep both cores busy.
  maxWorkers: '150%',
};
