import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { ConfigError, deviceForInstanceType, LOG_RETENTION_DAYS, parseConfig } from '../../lib/config';
import { DEFAULT_STACK_NAME } from '../../lib/layout';
import { REPO_ROOT } from '../support/cli';

/** The message of the ConfigError `fn` throws (fails the test if it does not throw one). */
function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('parseConfig', () => {
  test('defaults: cheap current GPU, on-demand, retained data, 60 idle minutes', () => {
    expect(parseConfig({})).toEqual({
      stackName: DEFAULT_STACK_NAME,
      instanceType: 'g4dn.xlarge',
      spot: false,
      rootVolumeGiB: 100,
      idleMinutes: 60,
      idleCpuPercent: 5,
      retainData: true,
      logRetentionDays: 30,
      minAccuracyPercent: 50,
      sweeps: true,
    });
  });

  test('cdk.json context holds valid values, equal to the schema defaults (tests build apps without cdk.json)', () => {
    const cdkJson = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8'));
    expect(parseConfig(cdkJson.context)).toEqual(parseConfig({}));
  });

  test('-c values arrive as strings and are parsed strictly', () => {
    const config = parseConfig({
      spot: 'true',
      retainData: 'false',
      rootVolumeGiB: '250',
      idleMinutes: '0',
      idleCpuPercent: '2.5',
      logRetentionDays: '7',
      availabilityZone: 'us-east-1b',
      stackName: 'BnnPynqDev',
      instanceType: 'c7i.4xlarge',
      minAccuracyPercent: '80.5',
    });
    expect(config).toMatchObject({
      minAccuracyPercent: 80.5,
      spot: true,
      retainData: false,
      rootVolumeGiB: 250,
      idleMinutes: 0,
      idleCpuPercent: 2.5,
      logRetentionDays: 7,
      availabilityZone: 'us-east-1b',
      stackName: 'BnnPynqDev',
      instanceType: 'c7i.4xlarge',
    });
  });

  test.each([
    ['instanceType', 'bogus', /invalid config 'instanceType' = 'bogus': not an EC2 instance type/],
    ['instanceType', 'p3.2xlarge', /'instanceType' = 'p3.2xlarge': p3 has a GPU the pinned Theano/],
    ['instanceType', 'g5g.xlarge', /'instanceType' = 'g5g.xlarge': g5g is an arm64 \(Graviton\) family/],
    ['instanceType', 'c7g.4xlarge', /Graviton/],
    ['instanceType', 'g4ad.xlarge', /AMD GPU/],
    ['instanceType', 'inf2.xlarge', /accelerator/],
    ['spot', 'yes', /invalid config 'spot' = 'yes': must be true or false/],
    ['retainData', 1, /invalid config 'retainData' = 1: must be true or false/],
    ['rootVolumeGiB', '20', /'rootVolumeGiB' = '20': must be at least 30/],
    ['rootVolumeGiB', '1.5', /'rootVolumeGiB' = '1.5': must be a whole number/],
    ['idleMinutes', '7', /'idleMinutes' = '7': must be 0 \(off\) or a multiple of 5/],
    ['idleMinutes', '-5', /'idleMinutes' = '-5': must be a whole number/],
    ['idleMinutes', '2000', /must be at most 1440/],
    ['idleCpuPercent', '0', /'idleCpuPercent' = '0': must be greater than 0/],
    ['logRetentionDays', '10', /'logRetentionDays' = '10': must be one of 1, 3, 5/],
    ['stackName', '1abc', /'stackName' = '1abc': must start with a letter/],
    ['stackName', 'has_underscore', /only letters, digits and dashes/],
    ['availabilityZone', 'us-east-1', /must be an Availability Zone name/],
    ['minAccuracyPercent', '101', /'minAccuracyPercent' = '101': must be at most 100/],
    ['minAccuracyPercent', 'high', /'minAccuracyPercent' = 'high': must be a number/],
  ])('%s = %p fails with a message naming the key', (key, value, message) => {
    const text = errorOf(() => parseConfig({ [key]: value }));
    expect(text).toMatch(message);
    expect(text).toContain(`-c ${key}=<value>`);
  });

  test('a key that differs only in case is refused, not silently ignored', () => {
    expect(errorOf(() => parseConfig({ instancetype: 'c7i.large' }))).toBe(
      "unknown config key 'instancetype': did you mean 'instanceType'? (keys are case-sensitive, camelCase) (cdk.json \"context\" or -c; see docs/configuration.md)",
    );
  });

  test.each([
    ['idleMinuts', "did you mean 'idleMinutes'?"],
    ['idle-minutes', "did you mean 'idleMinutes'? (keys are case-sensitive, camelCase)"],
    ['rootVolumeGib', "did you mean 'rootVolumeGiB'?"],
    ['instanceTyp', "did you mean 'instanceType'?"],
    ['retain_data', "did you mean 'retainData'?"],
    ['foo', 'the keys are stackName, instanceType, '],
  ])('an unknown or misspelled key (%s) fails with one line and the nearest key', (key, hint) => {
    const text = errorOf(() => parseConfig({ [key]: '5' }));
    expect(text).toMatch(new RegExp(`^unknown config key '${key}': `));
    expect(text).toContain(hint);
    expect(text.split('\n')).toHaveLength(1);
  });

  test("the CDK's own context keys are ignored", () => {
    const cdkKeys = {
      '@aws-cdk/core:newStyleStackSynthesis': true,
      '@aws-cdk/aws-ec2:restrictDefaultSecurityGroup': true,
      'aws:cdk:version-reporting': false,
      'aws:cdk:bundling-stacks': [],
      'availability-zones:account=123456789012:region=eu-west-1': ['eu-west-1a'],
      'acknowledged-issue-numbers': [32775],
      'cdk-migrate': true,
    };
    expect(parseConfig(cdkKeys).instanceType).toBe('g4dn.xlarge');
  });

  test('every CloudWatch retention value is accepted', () => {
    for (const days of LOG_RETENTION_DAYS)
      expect(parseConfig({ logRetentionDays: String(days) }).logRetentionDays).toBe(days);
  });

  test('property: idleMinutes accepts exactly 0 and the multiples of 5 up to 1440', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1500 }), (m) => {
        const ok = m <= 1440 && m % 5 === 0;
        let accepted = true;
        try {
          expect(parseConfig({ idleMinutes: String(m) }).idleMinutes).toBe(m);
        } catch {
          accepted = false;
        }
        return accepted === ok;
      }),
    );
  });
});

describe('deviceForInstanceType', () => {
  test.each([
    ['g4dn.xlarge', 'gpu'],
    ['g5.2xlarge', 'gpu'],
    ['g6.xlarge', 'gpu'],
    ['g6e.xlarge', 'gpu'],
    ['gr6.4xlarge', 'gpu'],
    ['p4d.24xlarge', 'gpu'],
    ['p5.48xlarge', 'gpu'],
    ['c7i.4xlarge', 'cpu'],
    ['c6i.2xlarge', 'cpu'],
    ['m7a.xlarge', 'cpu'],
    ['t3.large', 'cpu'],
  ])('%s → %s', (type, device) => {
    expect(deviceForInstanceType(type)).toBe(device);
  });

  test.each([
    'g7.xlarge',
    'p6-b200.48xlarge',
    'p2.xlarge',
    'g3.4xlarge',
    'g4ad.xlarge',
    'm7g.large',
    'G4DN.XLARGE',
  ])('%s is refused with a reason', (type) => {
    const result = deviceForInstanceType(type);
    expect(typeof result).toBe('object');
  });
});
