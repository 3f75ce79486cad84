#!/usr/bin/env node
// The `bnn-pynq` command. It runs the esbuild bundle dist/cli/bnn-pynq.js (built by `npm ci`, whose
// `prepare` script runs scripts/build-cli.js), which starts in tens of milliseconds. The bundle is used only
// while it matches the sources: after any edit, checkout or pull it is rebuilt here first (about a second,
// once); if it cannot be built, the TypeScript sources run through tsx. BNN_PYNQ_FROM_SOURCES=1 always runs
// the sources.
async function load() {
  if (process.env.BNN_PYNQ_FROM_SOURCES !== '1') {
    try {
      const cli = require('../scripts/build-cli.js');
      if (!cli.isFresh()) await cli.build();
      if (cli.isFresh()) return cli.loadBundle();
    } catch {
      // No esbuild (or an unwritable dist/): the sources below work without a build step.
    }
  }
  require('tsx/cjs');
  return require('../lib/cli/main.ts');
}
load().then((cli) => cli.main(process.argv));
