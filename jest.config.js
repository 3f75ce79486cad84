// Jest runs TypeScript through SWC (type-checking is `tsc --noEmit`, a separate step of `npm test`).
// The project runs on Node 20 by decision; keep the AWS SDK's "Node 20 support ends" notice out of test output
// (the CLI does the same in lib/cloud/clients.ts). Jest's workers inherit this environment.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const os = require('node:os');

/** @type {import('jest').Config} */
module.exports = {
  // Node's environment, recording each file's CPU time for the slowest-files table printed at the end.
  testEnvironment: '<rootDir>/test/support/cpu-environment.js',
  reporters: ['default', '<rootDir>/test/support/slowest-reporter.js'],
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest'] },
  // Generous: a loaded machine stretches a test that alone takes 4 s (publishing a param folder to s3rver) well
  // past a minute of wall time.
  testTimeout: 300_000,
  // Two workers per core. Jest's default on 2 cores is 1 worker, and most heavy files wait on child processes (the
  // trainer, bash with the instance scripts, s3rver, ssh to the stand-in board). A number, not a percentage: Jest
  // 30 reads a percentage over 100 % as a count ('150%' was 150 workers, every file at once).
  maxWorkers: 2 * os.availableParallelism(),
  // A fresh worker for every file (as when every file had its own): with reused workers, a file's spawn() failed
  // with ENOMEM after the worker had run other files (calibrate.test.ts), and one Batch test lost its trainer's
  // message. A worker starts in well under a second.
  workerIdleMemoryLimit: 0,
};
