import fs from 'node:fs';
import path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { parseConfig } from '../../lib/config';
import { ConversionJob } from '../../lib/constructs/conversion-job';
import { ACCURACY_FLOOR, CONVERSION_ENV, conversionConfigFromEnv } from '../../lib/conversion/config';
import { captures } from '../../lib/defined';
import { REPO_ROOT } from '../support/cli';

// Defaults have one home, the schema of lib/config.ts (and ACCURACY_FLOOR for the conversion job's floor, which
// the schema takes): cdk.json repeats none, and the tables in the docs say what the schema says.

const DEFAULTS = parseConfig({});

/** `| \`key\` | \`default\` | ...` rows of a markdown table. */
function documentedDefaults(file: string): Record<string, string> {
  const text = fs.readFileSync(path.join(REPO_ROOT, file), 'utf8');
  const rows: Record<string, string> = {};
  for (const m of text.matchAll(/^\|\s*`([A-Za-z]+)`\s*\|\s*`([^`]+)`\s*\|/gm)) {
    const [key, value] = captures(m, 2, 'the table row pattern');
    rows[key] = value;
  }
  return rows;
}

test('cdk.json context repeats no default of the schema', () => {
  const context = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8')).context ?? {};
  for (const key of Object.keys(DEFAULTS)) expect([key, context[key]]).toEqual([key, undefined]);
});

test.each(['README.md', 'docs/configuration.md'])('%s documents the schema defaults', (file) => {
  const rows = documentedDefaults(file);
  const documented = Object.keys(rows).filter((k) => k in DEFAULTS);
  expect(documented.length).toBeGreaterThanOrEqual(6);
  for (const key of documented) {
    expect([key, rows[key]]).toEqual([key, String(DEFAULTS[key as keyof typeof DEFAULTS])]);
  }
});

test('the accuracy floor: one default for the config, the construct and the Lambda; one range for all three', () => {
  expect(DEFAULTS.minAccuracyPercent).toBe(ACCURACY_FLOOR.default);
  const env = { [CONVERSION_ENV.artifactBucket]: 'a', [CONVERSION_ENV.datasetBucket]: 'd' };
  expect(conversionConfigFromEnv(env).minAccuracyPercent).toBe(ACCURACY_FLOOR.default);
  // The construct checks its prop before it builds anything (a valid floor would bundle the Lambda: not here).
  const construct = (value: number) => () => {
    const stack = new Stack(new App(), 'T');
    new ConversionJob(stack, 'Conversion', {
      artifactBucket: new s3.Bucket(stack, 'A'),
      datasetBucket: new s3.Bucket(stack, 'D'),
      minAccuracyPercent: value,
    });
  };
  for (const [value, ok] of [
    [ACCURACY_FLOOR.min, true],
    [ACCURACY_FLOOR.max, true],
    [ACCURACY_FLOOR.max + 0.5, false],
    [ACCURACY_FLOOR.min - 1, false],
  ] as const) {
    const config = () => parseConfig({ minAccuracyPercent: value });
    const lambda = () =>
      conversionConfigFromEnv({ ...env, [CONVERSION_ENV.minAccuracyPercent]: String(value) });
    if (ok) {
      expect(config().minAccuracyPercent).toBe(value);
      expect(lambda().minAccuracyPercent).toBe(value);
    } else {
      expect(config).toThrow(/'minAccuracyPercent' = .*: must be at (least|most)/);
      expect(lambda).toThrow(`is not a percentage between ${ACCURACY_FLOOR.min} and ${ACCURACY_FLOOR.max}`);
      expect(construct(value)).toThrow(/^T\/Conversion: minAccuracyPercent must be at (least|most) /);
    }
  }
});
