import fs from 'node:fs';
import path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { CostGuard } from '../../lib/constructs/cost-guard';
import { Discovery } from '../../lib/constructs/discovery';
import { TrainingInstance } from '../../lib/constructs/training-instance';
import { captures } from '../../lib/defined';

// The constructs follow aws-cdk's own conventions: every optional prop says its default (`@default`), and a
// construct that refuses its props says which construct (its path) refused them.

const CONSTRUCTS = path.join(__dirname, '..', '..', 'lib', 'constructs');

test('every optional prop of every construct in lib/constructs documents its @default', () => {
  const missing: string[] = [];
  for (const file of fs.readdirSync(CONSTRUCTS).filter((f) => f.endsWith('.ts'))) {
    const source = fs.readFileSync(path.join(CONSTRUCTS, file), 'utf8');
    for (const iface of source.matchAll(/export interface (\w+Props)[^{]*\{([\s\S]*?)\n\}/g)) {
      const [name, body] = captures(iface, 2, 'the Props interface pattern');
      // Each member with the doc comment just before it.
      for (const m of body.matchAll(/((?:\s*\/\*\*[\s\S]*?\*\/)?)\s*readonly (\w+)(\??):/g)) {
        const [doc, prop, optional] = captures(m, 3, 'the member pattern');
        if (optional && !doc.includes('@default')) missing.push(`${file} ${name}.${prop}`);
      }
    }
  }
  expect(missing).toEqual([]);
});

test('a construct refusing its props names its construct path', () => {
  const stack = new Stack(new App(), 'Style');
  const vpc = new ec2.Vpc(stack, 'Vpc', { natGateways: 0, maxAzs: 1 });
  const instance = new ec2.Instance(stack, 'Instance', {
    vpc,
    instanceType: new ec2.InstanceType('t3.micro'),
    machineImage: ec2.MachineImage.genericLinux({ 'us-east-1': 'ami-12345678' }),
  });
  // Any EC2 instance will do for the cost guard (props take the IInstance interface).
  expect(() => new CostGuard(stack, 'Guard', { instance, idleMinutes: 7, idleCpuPercent: 5 })).toThrow(
    'Style/Guard: idleMinutes must be a positive multiple of 5, got 7',
  );
  const discovery = new Discovery(stack, 'Discovery', { stackName: 'Style' });
  discovery.add('instance-id', 'i-1');
  expect(() => discovery.add('instance-id', 'i-2')).toThrow(
    "Style/Discovery: discovery value 'instance-id' is already registered",
  );
  // The device (and AMI) is derived from the instance type inside the construct; a type it cannot use is refused.
  const bucket = s3.Bucket.fromBucketName(stack, 'B', 'style-bucket');
  expect(
    () =>
      new TrainingInstance(stack, 'Training', {
        stackName: 'Style',
        vpc,
        securityGroup: new ec2.SecurityGroup(stack, 'Sg', { vpc }),
        instanceType: 'g4ad.xlarge',
        datasetBucket: bucket,
        artifactBucket: bucket,
        bootstrapStateParameter: ssm.StringParameter.fromStringParameterName(stack, 'P', '/p'),
      }),
  ).toThrow(
    'Style/Training: instanceType g4ad.xlarge: g4ad has an AMD GPU; the training code needs an NVIDIA (CUDA) GPU',
  );
});

test('the training instance derives its device from the type: a CPU type gets the CPU hint and AMI', () => {
  const stack = new Stack(new App(), 'Derive');
  const vpc = new ec2.Vpc(stack, 'Vpc', { natGateways: 0, maxAzs: 1 });
  const bucket = s3.Bucket.fromBucketName(stack, 'B', 'style-bucket');
  const training = new TrainingInstance(stack, 'Training', {
    stackName: 'Derive',
    vpc,
    securityGroup: new ec2.SecurityGroup(stack, 'Sg', { vpc }),
    instanceType: 'c7i.4xlarge',
    datasetBucket: bucket,
    artifactBucket: bucket,
    bootstrapStateParameter: ssm.StringParameter.fromStringParameterName(stack, 'P', '/p'),
  });
  expect(training.device).toBe('cpu');
  expect(training.amiParameterName).toBe(
    '/aws/service/canonical/ubuntu/server/22.04/stable/current/amd64/hvm/ebs-gp2/ami-id',
  );
});
