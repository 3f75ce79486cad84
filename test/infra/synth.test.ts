import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from '../support/cli';

// The real `npx cdk synth`, as a user runs it, with no AWS credentials anywhere: every AWS_* variable
// removed and HOME pointed at an empty folder (so no ~/.aws either).
jest.setTimeout(300_000); // a real synth (esbuild bundling included) under a loaded CI machine

let home: string;
let out: string;
beforeAll(() => {
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'bnn-synth-home-'));
  out = fs.mkdtempSync(path.join(os.tmpdir(), 'bnn-synth-out-'));
});
afterAll(() => {
  fs.rmSync(home, { recursive: true, force: true });
  fs.rmSync(out, { recursive: true, force: true });
});

function cdkSynth(args: string[]) {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !k.startsWith('AWS_') && !k.startsWith('CDK_')) env[k] = v;
  }
  env.HOME = home;
  env.npm_config_cache = path.join(home, '.npm');
  env.npm_config_update_notifier = 'false';
  const result = spawnSync(
    'npx',
    ['cdk', 'synth', '--no-notices', '--no-version-reporting', '-o', out, ...args],
    {
      cwd: REPO_ROOT,
      env,
      encoding: 'utf8',
    },
  );
  return { status: result.status, output: `${result.stdout}\n${result.stderr}`, stderr: result.stderr };
}

test('synth succeeds with no AWS credentials and writes the template', () => {
  const { status, output, stderr } = cdkSynth([]);
  expect({ status, output }).toMatchObject({ status: 0 });
  const template = JSON.parse(fs.readFileSync(path.join(out, 'BnnPynq.template.json'), 'utf8'));
  expect(Object.values(template.Resources as Record<string, { Type: string }>).map((r) => r.Type)).toContain(
    'AWS::EC2::Instance',
  );
  // Environment-agnostic: nothing was looked up (no cdk.context.json entries were needed).
  expect(stderr).not.toMatch(/lookup|credentials/i);
  // cdk.json carries the recommended feature flags of the aws-cdk-lib in use (as `cdk init` writes them).
  expect(stderr).not.toMatch(/feature flags? (are|is) not configured/i);
  expect(output).toContain('AWS::EC2::LaunchTemplate');
});

test('cdk.json sets every recommended feature flag of the installed aws-cdk-lib, to its recommended value', () => {
  const recommended = JSON.parse(
    fs.readFileSync(
      path.join(REPO_ROOT, 'node_modules', 'aws-cdk-lib', 'recommended-feature-flags.json'),
      'utf8',
    ),
  ) as Record<string, unknown>;
  const { context } = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8'));
  const flags = Object.fromEntries(Object.entries(context).filter(([k]) => k.startsWith('@aws-cdk')));
  expect(flags).toEqual(expect.objectContaining(recommended));
});

test('a bad -c value fails synth with one message naming the key', () => {
  const { status, output } = cdkSynth(['-c', 'instanceType=bogus']);
  expect(status).not.toBe(0);
  expect(output).toContain(
    "error: invalid config 'instanceType' = 'bogus': not an EC2 instance type of the form <family>.<size>, e.g. g4dn.xlarge.",
  );
  expect(output).not.toMatch(/\n\s+at /); // no stack trace
});
