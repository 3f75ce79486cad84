#!/usr/bin/env node
// The `bnn-pynq` command. Sources are TypeScript; tsx compiles them on the fly, so `npx bnn-pynq`
// works right after `npm ci` with no build step.
require('tsx/cjs');
require('../lib/cli/main.ts').main(process.argv);
