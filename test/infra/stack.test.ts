import fs from 'node:fs';
import path from 'node:path';
import { App, type CfnElement, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import {
  AMI_PARAMETERS,
  INSTANCE_SCRIPTS_DIR,
  USER_DATA_ENTRY,
} from '../../lib/constructs/training-instance';
import {
  BOOTSTRAP_STATE_TAG,
  CHECKPOINT_TAG,
  DISCOVERY_KEYS,
  discoveryParameter,
  SWEEP_DISCOVERY_KEYS,
} from '../../lib/layout';
import { type BnnPynqStack, buildApp } from '../../lib/stacks/bnn-pynq-stack';

// Synth is slow-ish: each configuration is built once per file.

// biome-ignore lint/suspicious/noExplicitAny: synthesized CloudFormation JSON is untyped
type Cfn = any;
/** Logical id of a construct's CloudFormation resource, as the template names it. */
const logicalId = (construct: IConstruct) =>
  Stack.of(construct).getLogicalId(construct.node.defaultChild as CfnElement);
interface Built {
  app: App;
  stack: BnnPynqStack;
  template: Template;
  json: Record<string, Cfn>;
}
function build(context: Record<string, unknown> = {}): Built {
  const app = new App({ context });
  const stack = buildApp(app);
  const template = Template.fromStack(stack);
  return { app, stack, template, json: template.toJSON() };
}
const idOf = (_stack: Stack, construct: IConstruct) => logicalId(construct);
const resourcesOf = (json: Record<string, Cfn>, type: string) =>
  Object.entries(json.Resources as Record<string, Cfn>).filter(([, r]) => r.Type === type);
const getAtt = (id: string) => ({ 'Fn::GetAtt': [id, 'Arn'] });

let defaults: Built;
let variant: Built; // spot, CPU type, data not retained, cost guard off, pinned AZ, other stack name
beforeAll(() => {
  defaults = build();
  variant = build({
    spot: 'true',
    instanceType: 'c7i.4xlarge',
    retainData: 'false',
    idleMinutes: '0',
    availabilityZone: 'us-east-1b',
    stackName: 'BnnPynqDev',
    rootVolumeGiB: '60',
  });
}, 120_000);

describe('cdk-nag AwsSolutions', () => {
  test.each([
    ['defaults', () => defaults],
    ['spot/cpu/no-retain variant', () => variant],
  ])('%s: no unacknowledged finding', (_name, get) => {
    const report = new AwsSolutionsChecks().validateScope(get().app);
    expect(report.violations.map((v) => `${v.ruleName} ${JSON.stringify(v.violatingResources)}`)).toEqual([]);
  });

  test('the check does run: an unencrypted, unlogged bucket in the same app is reported', () => {
    const app = new App();
    const stack = new Stack(app, 'Bad');
    new s3.CfnBucket(stack, 'Open', {});
    const rules = new AwsSolutionsChecks().validateScope(app).violations.map((v) => v.ruleName);
    expect(rules).toEqual(expect.arrayContaining(['AwsSolutions-S1', 'AwsSolutions-S10']));
  });
});

describe('storage', () => {
  test('three buckets, all with public access blocked, SSE encryption and ACLs disabled', () => {
    const buckets = resourcesOf(defaults.json, 'AWS::S3::Bucket');
    expect(buckets).toHaveLength(3);
    for (const [, bucket] of buckets) {
      expect(bucket.Properties.PublicAccessBlockConfiguration).toEqual({
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      });
      expect(bucket.Properties.BucketEncryption).toEqual({
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      });
      expect(bucket.Properties.OwnershipControls).toEqual({
        Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }],
      });
      expect(bucket.DeletionPolicy).toBe('Retain');
    }
  });

  test('every bucket policy denies requests without TLS', () => {
    const policies = resourcesOf(defaults.json, 'AWS::S3::BucketPolicy');
    expect(policies).toHaveLength(3);
    for (const [, policy] of policies) {
      expect(policy.Properties.PolicyDocument.Statement).toEqual(
        expect.arrayContaining([
          expect.objectContaining({
            Effect: 'Deny',
            Action: 's3:*',
            Principal: { AWS: '*' },
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
        ]),
      );
    }
  });

  test('ArtifactBucket: versioned, EventBridge on, lifecycle for checkpoints and old versions, access logs', () => {
    const { stack, template } = defaults;
    template.hasResourceProperties('AWS::S3::Bucket', {
      VersioningConfiguration: { Status: 'Enabled' },
      NotificationConfiguration: { EventBridgeConfiguration: { EventBridgeEnabled: true } },
      LoggingConfiguration: {
        DestinationBucketName: { Ref: idOf(stack, stack.logBucket) },
        LogFilePrefix: 'access/artifact/',
      },
      LifecycleConfiguration: {
        Rules: Match.arrayWith([
          Match.objectLike({
            Id: 'expire-checkpoints',
            Status: 'Enabled',
            TagFilters: [{ Key: CHECKPOINT_TAG.key, Value: CHECKPOINT_TAG.value }],
            ExpirationInDays: 14,
          }),
          Match.objectLike({
            Id: 'expire-noncurrent-versions',
            NoncurrentVersionExpiration: { NoncurrentDays: 30, NewerNoncurrentVersions: 3 },
          }),
        ]),
      },
    });
    // No custom-resource Lambda just to switch EventBridge on.
    template.resourceCountIs('Custom::S3BucketNotifications', 0);
    expect(
      Object.keys(defaults.json.Resources).filter((id) => id.startsWith('BucketNotificationsHandler')),
    ).toEqual([]);
  });

  test('DatasetBucket logs to the log bucket; the log bucket accepts only the S3 logging service', () => {
    const { stack, template } = defaults;
    template.hasResourceProperties('AWS::S3::Bucket', {
      LoggingConfiguration: {
        DestinationBucketName: { Ref: idOf(stack, stack.logBucket) },
        LogFilePrefix: 'access/dataset/',
      },
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: idOf(stack, stack.logBucket) },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Allow', Principal: { Service: 'logging.s3.amazonaws.com' } }),
        ]),
      },
    });
  });

  test('retainData=false: buckets are deleted with their objects', () => {
    for (const [, bucket] of resourcesOf(variant.json, 'AWS::S3::Bucket'))
      expect(bucket.DeletionPolicy).toBe('Delete');
    expect(resourcesOf(variant.json, 'Custom::S3AutoDeleteObjects')).toHaveLength(3);
  });
});

describe('network', () => {
  test('public subnets only, no NAT gateway, an S3 gateway endpoint, flow logs to S3', () => {
    const { template, json } = defaults;
    template.resourceCountIs('AWS::EC2::NatGateway', 0);
    const subnets = resourcesOf(json, 'AWS::EC2::Subnet');
    expect(subnets).toHaveLength(2);
    for (const [, subnet] of subnets) expect(subnet.Properties.MapPublicIpOnLaunch).toBe(true);
    template.hasResourceProperties('AWS::EC2::VPCEndpoint', {
      VpcEndpointType: 'Gateway',
      ServiceName: { 'Fn::Join': ['', ['com.amazonaws.', { Ref: 'AWS::Region' }, '.s3']] },
    });
    template.hasResourceProperties('AWS::EC2::FlowLog', { LogDestinationType: 's3', TrafficType: 'REJECT' });
  });

  test('security group with zero ingress rules, and no SSH key pair anywhere', () => {
    const { template, json } = defaults;
    const groups = resourcesOf(json, 'AWS::EC2::SecurityGroup');
    expect(groups).toHaveLength(1);
    expect(groups[0][1].Properties.SecurityGroupIngress).toBeUndefined();
    template.resourceCountIs('AWS::EC2::SecurityGroupIngress', 0);
    template.resourceCountIs('AWS::EC2::KeyPair', 0);
    for (const [, instance] of resourcesOf(json, 'AWS::EC2::Instance')) {
      expect(instance.Properties.KeyName).toBeUndefined();
    }
  });

  test('availabilityZone pins the subnet (and so the instance) to that AZ', () => {
    const subnets = resourcesOf(variant.json, 'AWS::EC2::Subnet');
    expect(subnets.map(([, s]) => s.Properties.AvailabilityZone)).toEqual(['us-east-1b']);
  });
});

describe('training instance', () => {
  test('GPU type: AMI = the DLAMI Base OSS Nvidia SSM parameter, resolved at deploy time', () => {
    const { json } = defaults;
    const amiParams = Object.entries(json.Parameters as Record<string, Cfn>).filter(
      ([, p]) => p.Type === 'AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>',
    );
    expect(amiParams).toHaveLength(1);
    expect(amiParams[0][1].Default).toBe(
      '/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-ubuntu-22.04/latest/ami-id',
    );
    const [[, instance]] = resourcesOf(json, 'AWS::EC2::Instance');
    expect(instance.Properties.ImageId).toEqual({ Ref: amiParams[0][0] });
    expect(instance.Properties.InstanceType).toBe('g4dn.xlarge');
  });

  test('CPU type: AMI = Canonical Ubuntu 22.04 SSM parameter', () => {
    const amiParams = Object.values(variant.json.Parameters as Record<string, Cfn>).filter(
      (p) => p.Type === 'AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>',
    );
    expect(amiParams.map((p) => p.Default)).toEqual([AMI_PARAMETERS.cpu]);
    expect(AMI_PARAMETERS.cpu).toBe(
      '/aws/service/canonical/ubuntu/server/22.04/stable/current/amd64/hvm/ebs-gp2/ami-id',
    );
  });

  test('IMDSv2 required, encrypted gp3 root, stop on shutdown, on-demand by default', () => {
    const { template } = defaults;
    template.hasResourceProperties('AWS::EC2::Instance', {
      MetadataOptions: { HttpTokens: 'required', HttpEndpoint: 'enabled' },
      InstanceInitiatedShutdownBehavior: 'stop',
      BlockDeviceMappings: [
        {
          DeviceName: '/dev/sda1',
          Ebs: { Encrypted: true, VolumeType: 'gp3', VolumeSize: 100, DeleteOnTermination: true },
        },
      ],
      LaunchTemplate: Match.absent(),
    });
    // The only launch template is the sweeps construct's (Batch instances), none for the training instance.
    expect(
      resourcesOf(defaults.json, 'AWS::EC2::LaunchTemplate').map(([id]) => id.startsWith('Sweeps')),
    ).toEqual([true]);
  });

  test('spot=true: persistent request that stops on interruption, via a launch template', () => {
    const { template, json } = variant;
    const [[ltId, lt]] = resourcesOf(json, 'AWS::EC2::LaunchTemplate');
    expect(lt.Properties.LaunchTemplateData.InstanceMarketOptions).toEqual({
      MarketType: 'spot',
      SpotOptions: { SpotInstanceType: 'persistent', InstanceInterruptionBehavior: 'stop' },
    });
    expect(lt.Properties.LaunchTemplateData.MetadataOptions).toEqual({ HttpTokens: 'required' });
    template.hasResourceProperties('AWS::EC2::Instance', {
      LaunchTemplate: {
        LaunchTemplateId: { Ref: ltId },
        Version: { 'Fn::GetAtt': [ltId, 'LatestVersionNumber'] },
      },
      InstanceInitiatedShutdownBehavior: 'stop',
      InstanceType: 'c7i.4xlarge',
      BlockDeviceMappings: [Match.objectLike({ Ebs: Match.objectLike({ VolumeSize: 60 }) })],
    });
  });

  test('spot=true: the persistent request is cancelled before the instance is deleted (no relaunch)', () => {
    const [[, canceller]] = resourcesOf(variant.json, 'Custom::BnnPynqSpotRequest');
    expect(canceller.DependsOn).toContain(logicalId(variant.stack.instance));
    const create = JSON.stringify(canceller.Properties.Create);
    expect(create).toContain('\\"action\\":\\"describeInstances\\"');
    expect(create).toContain('Reservations.0.Instances.0.SpotInstanceRequestId');
    // A replaced instance re-records its request id; the changed physical id cancels the old request.
    expect(JSON.stringify(canceller.Properties.Update)).toBe(create);
    const del = JSON.stringify(canceller.Properties.Delete);
    expect(del).toContain('\\"action\\":\\"cancelSpotInstanceRequests\\"');
    expect(del).toContain('\\"SpotInstanceRequestIds\\":[\\"PHYSICAL:RESOURCEID:\\"]');
    expect(resourcesOf(defaults.json, 'Custom::BnnPynqSpotRequest')).toHaveLength(0);
  });

  test('user data = header writing /etc/bnn-pynq/env, then scripts/instance/user-data.sh verbatim', () => {
    const { stack, template } = defaults;
    const [, instance] = Object.entries(template.findResources('AWS::EC2::Instance'))[0];
    const parts = instance.Properties.UserData['Fn::Base64']['Fn::Join'][1] as unknown[];
    // Tokens rendered as ${Ref}/${GetAtt} so the text can be read as the instance will get it.
    const text = parts
      .map((p) =>
        typeof p === 'string'
          ? p
          : (p as Cfn).Ref
            ? `\${${(p as Cfn).Ref}}`
            : (p as Cfn)['Fn::Sub']
              ? (p as Cfn)['Fn::Sub'].replace(/[0-9a-f]{64}/, '<hash>')
              : JSON.stringify(p),
      )
      .join('');
    const bucketRef = (b: s3.Bucket) => `\${${idOf(stack, b)}}`;
    const logGroupId = logicalId(stack.logGroup);
    const stateParamId = logicalId(stack.discovery.parameter('bootstrap-state'));
    const header = [
      '#!/bin/bash',
      '# --- header rendered by lib/constructs/training-instance.ts: the stack values for every script ---',
      'install -d -m 0755 /etc/bnn-pynq',
      "cat > /etc/bnn-pynq/env <<'BNN_PYNQ_ENV'",
      'BNN_STACK=BnnPynq',
      `BNN_REGION=\${AWS::Region}`,
      `BNN_DATASET_BUCKET=${bucketRef(stack.datasetBucket)}`,
      `BNN_ARTIFACT_BUCKET=${bucketRef(stack.artifactBucket)}`,
      `BNN_LOG_GROUP=\${${logGroupId}}`,
      `BNN_STATE_PARAM=\${${stateParamId}}`,
      `BNN_ASSET_URL=s3://cdk-hnb659fds-assets-\${AWS::AccountId}-\${AWS::Region}/<hash>.zip`,
      'BNN_DEVICE_HINT=gpu',
      'BNN_PYNQ_ENV',
      'chmod 0644 /etc/bnn-pynq/env',
      `# --- scripts/instance/${USER_DATA_ENTRY} ---`,
      '',
    ].join('\n');
    const script = fs.readFileSync(path.join(INSTANCE_SCRIPTS_DIR, USER_DATA_ENTRY), 'utf8');
    expect(text).toBe(header + script);
    expect(Buffer.byteLength(text)).toBeLessThan(16 * 1024);
  });

  test('the CPU variant tells the scripts so (BNN_DEVICE_HINT=cpu) and names its own stack', () => {
    const [, instance] = resourcesOf(variant.json, 'AWS::EC2::Instance')[0];
    const first = instance.Properties.UserData['Fn::Base64']['Fn::Join'][1][0] as string;
    expect(first).toContain('\nBNN_STACK=BnnPynqDev\n');
    const joined = (instance.Properties.UserData['Fn::Base64']['Fn::Join'][1] as unknown[])
      .filter((p) => typeof p === 'string')
      .join('');
    expect(joined).toContain('\nBNN_DEVICE_HINT=cpu\n');
  });

  test('a user-data.sh over the EC2 limit fails synth with a clear message', () => {
    const dir = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'bnn-ud-'));
    try {
      fs.writeFileSync(path.join(dir, USER_DATA_ENTRY), `#!/bin/bash\n${'#'.repeat(15 * 1024)}\n`);
      expect(() => buildApp(new App(), { instanceScriptsDir: dir })).toThrow(/limited to 16 KiB/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('instance role', () => {
  /** Every statement of every policy attached to the instance role (other constructs' roles excluded). */
  const policyStatements = (b: Built) => {
    const roleRef = JSON.stringify({ Ref: logicalId(b.stack.instanceRole) });
    const policies = resourcesOf(b.json, 'AWS::IAM::Policy').filter(([, p]) =>
      (p.Properties.Roles as Cfn[]).some((r) => JSON.stringify(r) === roleRef),
    );
    expect(policies).toHaveLength(2); // the role's default policy + the tag-itself policy
    return policies.flatMap(([, p]) => p.Properties.PolicyDocument.Statement as Cfn[]);
  };

  test('managed policies: only AmazonSSMManagedInstanceCore', () => {
    const role = defaults.json.Resources[logicalId(defaults.stack.instanceRole)];
    expect(role.Properties.AssumeRolePolicyDocument.Statement).toEqual([
      { Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' } },
    ]);
    expect(role.Properties.ManagedPolicyArns).toEqual([
      {
        'Fn::Join': [
          '',
          ['arn:', { Ref: 'AWS::Partition' }, ':iam::aws:policy/AmazonSSMManagedInstanceCore'],
        ],
      },
    ]);
  });

  test('no statement allows Resource "*" and every S3 statement is scoped to the two buckets or the asset', () => {
    const { stack } = defaults;
    const datasetArn = getAtt(idOf(stack, stack.datasetBucket));
    const artifactArn = getAtt(idOf(stack, stack.artifactBucket));
    const objects = (arn: object, suffix: string) => ({ 'Fn::Join': ['', [arn, suffix]] });
    const bySid: Record<string, Cfn> = Object.fromEntries(policyStatements(defaults).map((s) => [s.Sid, s]));
    for (const statement of Object.values(bySid)) {
      expect(JSON.stringify(statement.Resource)).not.toBe('"*"');
      expect(statement.Effect).toBe('Allow');
    }
    expect(bySid.ListBuckets.Resource).toEqual([datasetArn, artifactArn]);
    expect(bySid.ReadDatasets).toMatchObject({ Action: 's3:GetObject', Resource: objects(datasetArn, '/*') });
    expect(bySid.CacheDownloadedDatasets).toMatchObject({
      Action: ['s3:PutObject', 's3:AbortMultipartUpload'],
      Resource: objects(datasetArn, '/datasets/*'),
    });
    expect(bySid.ReadWriteArtifacts.Resource).toEqual(objects(artifactArn, '/*'));
    expect(bySid.ReadWriteArtifacts.Action).toEqual(expect.arrayContaining(['s3:GetObject', 's3:PutObject']));
    // The scripts asset: exactly one object, read-only.
    expect(bySid.ReadInstanceScripts.Action).toBe('s3:GetObject');
    expect(JSON.stringify(bySid.ReadInstanceScripts.Resource)).toMatch(
      /cdk-hnb659fds-assets-.*\/[0-9a-f]{64}\.zip"/,
    );
    const s3Statements = Object.values(bySid).filter((s) =>
      [s.Action].flat().some((a: string) => a.startsWith('s3:')),
    );
    expect(s3Statements.map((s) => s.Sid).sort()).toEqual(
      [
        'CacheDownloadedDatasets',
        'ListBuckets',
        'ReadDatasets',
        'ReadInstanceScripts',
        'ReadWriteArtifacts',
      ].sort(),
    );
  });

  test('logs only to the stack log group; ssm:PutParameter only on bootstrap-state; tags only itself', () => {
    const { stack } = defaults;
    const bySid: Record<string, Cfn> = Object.fromEntries(policyStatements(defaults).map((s) => [s.Sid, s]));
    expect(bySid.WriteStackLogs).toMatchObject({
      Action: ['logs:CreateLogStream', 'logs:PutLogEvents', 'logs:DescribeLogStreams'],
      Resource: getAtt(logicalId(stack.logGroup)),
    });
    const stateParamId = logicalId(stack.discovery.parameter('bootstrap-state'));
    expect(bySid.ReportBootstrapState.Action).toBe('ssm:PutParameter');
    expect(JSON.stringify(bySid.ReportBootstrapState.Resource)).toContain(`{"Ref":"${stateParamId}"}`);
    expect(bySid.FindStackLogGroup).toMatchObject({ Action: 'logs:DescribeLogGroups' });
    expect(JSON.stringify(bySid.FindStackLogGroup.Resource)).toMatch(/:log-group:\*"\]\]\}$/);
    const instanceId = logicalId(stack.instance);
    expect(bySid.TagItselfWithBootstrapState).toMatchObject({
      Action: 'ec2:CreateTags',
      Condition: { 'ForAllValues:StringEquals': { 'aws:TagKeys': [BOOTSTRAP_STATE_TAG] } },
    });
    expect(JSON.stringify(bySid.TagItselfWithBootstrapState.Resource)).toContain(
      `":instance/",{"Ref":"${instanceId}"}`,
    );
  });
});

describe('cost guard', () => {
  test('alarm on low average CPU for idleMinutes whose action stops the instance', () => {
    const { stack, template } = defaults;
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/EC2',
      MetricName: 'CPUUtilization',
      Dimensions: [{ Name: 'InstanceId', Value: { Ref: logicalId(stack.instance) } }],
      Statistic: 'Average',
      Period: 300,
      EvaluationPeriods: 12,
      DatapointsToAlarm: 12,
      Threshold: 5,
      ComparisonOperator: 'LessThanThreshold',
      TreatMissingData: 'notBreaching',
      AlarmActions: [
        {
          'Fn::Join': [
            '',
            ['arn:', { Ref: 'AWS::Partition' }, ':automate:', { Ref: 'AWS::Region' }, ':ec2:stop'],
          ],
        },
      ],
    });
  });

  test('idleMinutes=0 turns it off', () => {
    variant.template.resourceCountIs('AWS::CloudWatch::Alarm', 0);
    expect(variant.stack.costGuard).toBeUndefined();
  });
});

describe('discovery', () => {
  test('an SSM parameter /bnn-pynq/<stack>/<key> for each registered key; bootstrap-state starts pending', () => {
    const { stack, template, json } = defaults;
    const names = resourcesOf(json, 'AWS::SSM::Parameter').map(([, p]) => p.Properties.Name);
    for (const key of [
      'dataset-bucket',
      'artifact-bucket',
      'instance-id',
      'log-group',
      'bootstrap-state',
    ] as const) {
      expect(names).toContain(discoveryParameter('BnnPynq', key));
    }
    // Every parameter the stack writes is one of the agreed keys.
    for (const name of names.filter((n) => n.startsWith('/bnn-pynq/'))) {
      expect(
        [...DISCOVERY_KEYS, ...SWEEP_DISCOVERY_KEYS].map((k) => discoveryParameter('BnnPynq', k)),
      ).toContain(name);
    }
    template.hasResourceProperties('AWS::SSM::Parameter', {
      Name: '/bnn-pynq/BnnPynq/bootstrap-state',
      Value: 'pending',
      Type: 'String',
    });
    template.hasResourceProperties('AWS::SSM::Parameter', {
      Name: '/bnn-pynq/BnnPynq/artifact-bucket',
      Value: { Ref: idOf(stack, stack.artifactBucket) },
    });
    expect(resourcesOf(variant.json, 'AWS::SSM::Parameter').map(([, p]) => p.Properties.Name)).toContain(
      '/bnn-pynq/BnnPynqDev/instance-id',
    );
  });

  test('outputs: names plus ready-to-paste s3 sync and ssm commands', () => {
    const { stack, json } = defaults;
    const outputs = json.Outputs as Record<string, Cfn>;
    expect(outputs.DiscoveryPrefix.Value).toBe('/bnn-pynq/BnnPynq/');
    expect(outputs.ArtifactBucket.Value).toEqual({ Ref: idOf(stack, stack.artifactBucket) });
    expect(outputs.FetchParamsCommand.Value).toEqual({
      'Fn::Join': [
        '',
        [
          'aws s3 sync s3://',
          { Ref: idOf(stack, stack.artifactBucket) },
          '/params/ ./params/ --region ',
          { Ref: 'AWS::Region' },
        ],
      ],
    });
    const instanceRef = { Ref: logicalId(stack.instance) };
    expect(outputs.StartInstanceCommand.Value['Fn::Join'][1]).toEqual([
      'aws ec2 start-instances --region ',
      { Ref: 'AWS::Region' },
      ' --instance-ids ',
      instanceRef,
    ]);
    if (stack.discovery.has('train-document')) {
      const train = outputs.TrainCommand.Value['Fn::Join'][1] as unknown[];
      expect(train[0]).toBe('aws ssm send-command --region ');
      expect(train).toContainEqual(instanceRef);
    }
  });

  test('values added later (e.g. by the conversion job) appear, with their command output', () => {
    const app = new App();
    const stack = new Stack(app, 'Later');
    const { Discovery } =
      require('../../lib/constructs/discovery') as typeof import('../../lib/constructs/discovery');
    const discovery = new Discovery(stack, 'Discovery', { stackName: 'Later' });
    discovery.add('convert-document', 'Later-Convert');
    expect(() => discovery.add('convert-document', 'again')).toThrow(/already registered/);
    const t = Template.fromStack(stack);
    t.hasResourceProperties('AWS::SSM::Parameter', {
      Name: '/bnn-pynq/Later/convert-document',
      Value: 'Later-Convert',
    });
    const out = t.toJSON().Outputs;
    expect(out.ConvertDocument.Value).toBe('Later-Convert');
    expect(out.ConvertCommand.Value['Fn::Join'][1].join('|')).toContain(
      '| --document-name Later-Convert --parameters "runId=$RUN_ID"',
    );
    expect(out.TrainCommand).toBeUndefined(); // needs instance-id, train-document, log-group
  });

  test('grantRead: GetParameter(s)/GetParametersByPath on the stack prefix only', () => {
    const app = new App();
    const stack = new Stack(app, 'Reader');
    const { Discovery } =
      require('../../lib/constructs/discovery') as typeof import('../../lib/constructs/discovery');
    const discovery = new Discovery(stack, 'Discovery', { stackName: 'Reader' });
    const role = new iam.Role(stack, 'Role', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    discovery.grantRead(role);
    const [statement] = Template.fromStack(stack).toJSON().Resources.RoleDefaultPolicy5FFB7DAB.Properties
      .PolicyDocument.Statement as Cfn[];
    expect(statement.Action).toEqual(['ssm:GetParameter', 'ssm:GetParameters', 'ssm:GetParametersByPath']);
    const resources = JSON.stringify(statement.Resource);
    expect(resources).toContain(':parameter/bnn-pynq/Reader"');
    expect(resources).toContain(':parameter/bnn-pynq/Reader/*"');
  });
});

describe('snapshot', () => {
  test('resources of this stack’s own constructs (asset hashes and the inlined user-data.sh masked)', () => {
    const { json } = defaults;
    // Only the constructs of this issue, so constructs others wire in do not churn this snapshot.
    const mine =
      /^(Storage|Network|Training|CostGuard|Discovery(DatasetBucket|ArtifactBucket|BootstrapState|InstanceId|LogGroup)Parameter)/;
    const resources = Object.fromEntries(
      Object.entries(json.Resources as Record<string, unknown>).filter(([id]) => mine.test(id)),
    );
    const text = JSON.stringify(resources, null, 1)
      .replace(/[0-9a-f]{64}/g, '<asset-hash>')
      .replace(/(# --- scripts\/instance\/user-data\.sh ---\\n)(?:[^"\\]|\\.)*"/, '$1<user-data.sh>"');
    expect(JSON.parse(text)).toMatchSnapshot();
  });
});
