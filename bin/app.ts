#!/usr/bin/env node
// The CDK app (cdk.json: `npx tsx bin/app.ts`). Configuration: cdk.json "context" + `-c key=value`,
// validated in lib/config.ts; see docs/configuration.md.
import { App } from 'aws-cdk-lib';
import { ConfigError } from '../lib/config';
import { buildApp } from '../lib/stacks/bnn-pynq-stack';

const app = new App();
try {
  buildApp(app);
} catch (error) {
  if (error instanceof ConfigError) {
    // One line naming the key; no stack trace for a typo in a -c value.
    process.stderr.write(`error: ${error.message}\n`);
    process.exit(1);
  }
  throw error;
}
app.synth();
