import fs from 'node:fs';
import path from 'node:path';
import { App, type CfnElement, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import {
  AMI_GENERATION_TAG,
  AMI_PARAMETERS,
  INSTANCE_SCRIPTS_DIR,
  USER_DATA_ENTRY,
} from '../../lib/constructs/training-instance';
import { at } from '../../lib/defined';
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
/** cdk.json's context (defaults and the feature flags), as `cdk synth` passes it to the app. */
const CDK_JSON_CONTEXT = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'cdk.json'), 'utf8'))
  .context as Record<string, unknown>;
function build(context: Record<string, unknown> = {}): Built {
  const app = new App({ context: { ...CDK_JSON_CONTEXT, ...context } });
  const stack = buildApp(app);
  const template = Template.fromStack(stack);
  return { app, stack, template, json: template.toJSON() };
}
const idOf = (_stack: Stack, construct: IConstruct) => logicalId(construct);
const resourcesOf = (json: Record<string, Cfn>, type: string) =>
  Object.entries(json.Resources as Record<string, Cfn>).filter(([, r]) => r.Type === type);
/** The first resource of `type` that `where` accepts, as [logical id, resource] (none: the test fails). */
const firstOf = (
  json: Record<string, Cfn>,
  type: string,
  where: (r: [string, Cfn]) => boolean = () => true,
) => at(resourcesOf(json, type).filter(where), 0, `the ${type} resources`);
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
        DestinationBucketName: { Ref: idOf(stack, stack.storage.logBucket) },
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
        DestinationBucketName: { Ref: idOf(stack, stack.storage.logBucket) },
        LogFilePrefix: 'access/dataset/',
      },
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: idOf(stack, stack.storage.logBucket) },
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
    expect(subnets).toHaveLength(1);
    for (const [, subnet] of subnets) expect(subnet.Properties.MapPublicIpOnLaunch).toBe(true);
    template.hasResourceProperties('AWS::EC2::VPCEndpoint', {
      VpcEndpointType: 'Gateway',
      ServiceName: { 'Fn::Join': ['', ['com.amazonaws.', { Ref: 'AWS::Region' }, '.s3']] },
    });
    template.hasResourceProperties('AWS::EC2::FlowLog', { LogDestinationType: 's3', TrafficType: 'REJECT' });
  });

  test('the flow-log delivery permission is in our log bucket policy, next to the TLS-only rule', () => {
    // With @aws-cdk/aws-s3:createDefaultLoggingPolicy (cdk.json) CDK writes the delivery.logs statements
    // into the stack's bucket policy, and the flow log waits for it: otherwise the log service writes its own
    // policy over ours and the TLS-only statement is gone.
    const { stack, json } = defaults;
    const logBucketId = idOf(stack, stack.storage.logBucket);
    const [policyId, policy] = firstOf(
      json,
      'AWS::S3::BucketPolicy',
      ([, p]) => JSON.stringify(p.Properties.Bucket) === JSON.stringify({ Ref: logBucketId }),
    );
    const statements = policy.Properties.PolicyDocument.Statement as Cfn[];
    expect(statements).toContainEqual(
      expect.objectContaining({
        Effect: 'Deny',
        Action: 's3:*',
        Principal: { AWS: '*' },
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      }),
    );
    const delivery = statements.filter((st) => st.Principal?.Service === 'delivery.logs.amazonaws.com');
    expect(delivery.map((st) => st.Action)).toEqual(['s3:PutObject', ['s3:GetBucketAcl', 's3:ListBucket']]);
    expect(JSON.stringify(delivery[0].Resource)).toContain('/vpc-flow-logs/AWSLogs/');
    const [, flowLog] = firstOf(json, 'AWS::EC2::FlowLog');
    expect(flowLog.DependsOn).toContain(policyId);
  });

  test('security group with zero ingress rules, and no SSH key pair anywhere', () => {
    const { template, json } = defaults;
    const groups = resourcesOf(json, 'AWS::EC2::SecurityGroup');
    expect(groups).toHaveLength(1);
    expect(groups[0]?.[1].Properties.SecurityGroupIngress).toBeUndefined();
    template.resourceCountIs('AWS::EC2::SecurityGroupIngress', 0);
    template.resourceCountIs('AWS::EC2::KeyPair', 0);
    for (const [, instance] of resourcesOf(json, 'AWS::EC2::Instance')) {
      expect(instance.Properties.KeyName).toBeUndefined();
    }
  });

  test('availabilityZone pins the subnet (and so the instance) to that AZ', () => {
    const subnets = resourcesOf(variant.json, 'AWS::EC2::Subnet');
    expect(subnets.map(([, s]) => s.Properties.AvailabilityZone)).toEqual(['us-east-1b']);
    // The lookup still checks that the pinned zone offers the type, before the instance launches.
    const [placementId, placement] = firstOf(variant.json, 'Custom::BnnPynqPlacement');
    expect(placement.Properties).toMatchObject({ InstanceType: 'c7i.4xlarge', PinnedZone: 'us-east-1b' });
    expect(variant.json.Resources[logicalId(variant.stack.training.instance)].DependsOn).toContain(
      placementId,
    );
  });

  test('by default the one subnet (and so the instance) is in the zone the placement lookup chose', () => {
    const [placementId, placement] = firstOf(defaults.json, 'Custom::BnnPynqPlacement');
    expect(placement.Properties).toEqual({
      ServiceToken: getAtt(logicalId(defaults.stack.placement.function)),
      InstanceType: 'g4dn.xlarge',
      AmiParameter: AMI_PARAMETERS.gpu,
      RootVolumeGiB: '100',
      PinnedZone: '',
    });
    const zone = { 'Fn::GetAtt': [placementId, 'Zone'] };
    const [, subnet] = firstOf(defaults.json, 'AWS::EC2::Subnet');
    expect(subnet.Properties.AvailabilityZone).toEqual(zone);
    const instance = defaults.json.Resources[logicalId(defaults.stack.training.instance)];
    expect(instance.Properties.AvailabilityZone).toEqual(zone);
    expect(instance.DependsOn).toContain(placementId);
    // The lookup reads offerings, zones and images, and only the AMI's public parameter.
    const role = defaults.stack.placement.function.role as iam.Role;
    const statements = resourcesOf(defaults.json, 'AWS::IAM::Policy')
      .filter(([, p]) => JSON.stringify(p.Properties.Roles) === JSON.stringify([{ Ref: logicalId(role) }]))
      .flatMap(([, p]) => p.Properties.PolicyDocument.Statement as Cfn[]);
    const bySid = Object.fromEntries(statements.map((st) => [st.Sid, st]));
    expect(bySid.ReadOfferingsZonesImages.Action).toEqual([
      'ec2:DescribeAvailabilityZones',
      'ec2:DescribeImages',
      'ec2:DescribeInstanceTypeOfferings',
    ]);
    expect(bySid.ReadAmiParameter.Action).toBe('ssm:GetParameter');
    expect(JSON.stringify(bySid.ReadAmiParameter.Resource)).toContain(`::parameter${AMI_PARAMETERS.gpu}"`);
  });
});

describe('training instance', () => {
  /** The launch template the instance launches from, and the instance. */
  const launch = (b: Built) => {
    // The training instance's own (the sweeps construct has another, for its Batch instances).
    const [ltId, lt] = firstOf(b.json, 'AWS::EC2::LaunchTemplate', ([id]) => id.startsWith('Training'));
    const [, instance] = firstOf(b.json, 'AWS::EC2::Instance');
    return { ltId, data: lt.Properties.LaunchTemplateData as Cfn, instance: instance as Cfn };
  };

  test('GPU type: the DLAMI Base OSS Nvidia parameter, resolved by EC2 at launch (not by CloudFormation)', () => {
    const { ltId, data, instance } = launch(defaults);
    expect(data.ImageId).toBe(
      'resolve:ssm:/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-ubuntu-22.04/latest/ami-id',
    );
    expect(instance.Properties.ImageId).toBeUndefined();
    expect(instance.Properties.LaunchTemplate).toEqual({
      LaunchTemplateId: { Ref: ltId },
      Version: { 'Fn::GetAtt': [ltId, 'LatestVersionNumber'] },
    });
    expect(instance.Properties.InstanceType).toBe('g4dn.xlarge');
    // No template parameter CloudFormation would resolve at every deploy.
    const amiParameters = Object.values((defaults.json.Parameters ?? {}) as Record<string, Cfn>).filter((p) =>
      String(p.Default).startsWith('/aws/service/'),
    );
    expect(amiParameters).toEqual([]);
    expect(JSON.stringify(defaults.json.Resources)).not.toContain('{{resolve:ssm:');
  });

  test('CPU type: Canonical Ubuntu 22.04 parameter, resolved at launch', () => {
    expect(launch(variant).data.ImageId).toBe(`resolve:ssm:${AMI_PARAMETERS.cpu}`);
    expect(AMI_PARAMETERS.cpu).toBe(
      '/aws/service/canonical/ubuntu/server/22.04/stable/current/amd64/hvm/ebs-gp2/ami-id',
    );
  });

  test('a newer "latest AMI" changes nothing CloudFormation deploys: the instance is not replaced', () => {
    // What CloudFormation does at deploy time: SSM-typed template parameters and {{resolve:ssm:...}}
    // dynamic references take the parameter's current value. Two deploys, a week apart, with AWS having
    // published a new image in between: the instance and its launch template must resolve identically.
    const deployed = (b: Built, latest: Record<string, string>) => {
      const parameters = (b.json.Parameters ?? {}) as Record<string, Cfn>;
      const resolve = (node: Cfn): Cfn => {
        if (Array.isArray(node)) return node.map(resolve);
        if (node && typeof node === 'object') {
          const keys = Object.keys(node);
          if (
            keys.length === 1 &&
            keys[0] === 'Ref' &&
            parameters[node.Ref]?.Type?.startsWith('AWS::SSM::')
          ) {
            return latest[parameters[node.Ref].Default] ?? `unresolved ${parameters[node.Ref].Default}`;
          }
          return Object.fromEntries(keys.map((k) => [k, resolve(node[k])]));
        }
        if (typeof node === 'string') {
          return node.replace(/\{\{resolve:ssm:([^}]+)\}\}/g, (_m, name: string) => latest[name] ?? name);
        }
        return node;
      };
      const { ltId } = launch(b);
      const instanceId = logicalId(b.stack.training.instance);
      return resolve({ instance: b.json.Resources[instanceId], template: b.json.Resources[ltId] });
    };
    for (const b of [defaults, variant]) {
      const week1 = deployed(b, {
        [AMI_PARAMETERS.gpu]: 'ami-0aaa1111',
        [AMI_PARAMETERS.cpu]: 'ami-0ccc1111',
      });
      const week2 = deployed(b, {
        [AMI_PARAMETERS.gpu]: 'ami-0bbb2222',
        [AMI_PARAMETERS.cpu]: 'ami-0ddd2222',
      });
      expect(week2).toEqual(week1);
      expect(JSON.stringify(week1)).not.toMatch(/ami-0/);
    }
    // And a second synth gives the same template for the instance (nothing is looked up at synth).
    expect(deployed(build(), {})).toEqual(deployed(defaults, {}));
  });

  test('-c refreshAmi=<token> is the one way to a newer AMI: a new template version, so a new instance', () => {
    const refreshed = build({ refreshAmi: '2026-12-01' });
    const before = launch(defaults);
    const after = launch(refreshed);
    const generationTag = { Key: AMI_GENERATION_TAG, Value: '2026-12-01' };
    for (const spec of after.data.TagSpecifications) expect(spec.Tags).toContainEqual(generationTag);
    expect(JSON.stringify(before.data)).not.toContain(AMI_GENERATION_TAG);
    // Same AMI parameter and same instance properties otherwise; the template data differs, so CloudFormation
    // makes a new version, and a changed LaunchTemplate.Version replaces the instance.
    expect({ ...after.data, TagSpecifications: undefined }).toEqual({
      ...before.data,
      TagSpecifications: undefined,
    });
    expect(after.instance.Properties.LaunchTemplate.Version).toEqual({
      'Fn::GetAtt': [after.ltId, 'LatestVersionNumber'],
    });
    // The buckets are separate resources with the same logical ids and properties: kept.
    for (const [id, bucket] of resourcesOf(defaults.json, 'AWS::S3::Bucket')) {
      expect(refreshed.json.Resources[id]).toEqual(bucket);
    }
    expect(() => build({ refreshAmi: 'two words' })).toThrow(/invalid config 'refreshAmi'/);
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
    });
    const { data } = launch(defaults);
    expect(data.InstanceMarketOptions).toBeUndefined();
    expect(data.MetadataOptions).toEqual({ HttpTokens: 'required' });
  });

  test('spot=true: persistent request that stops on interruption, via a launch template', () => {
    const { template, json } = variant;
    const [ltId, lt] = firstOf(json, 'AWS::EC2::LaunchTemplate', ([id]) => id.startsWith('Training'));
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
    const [, canceller] = firstOf(variant.json, 'Custom::BnnPynqSpotRequest');
    expect(canceller.DependsOn).toContain(logicalId(variant.stack.training.instance));
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
    const [, instance] = firstOf(template.toJSON(), 'AWS::EC2::Instance');
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
    const logGroupId = logicalId(stack.training.logGroup);
    const stateParamId = logicalId(stack.discovery.parameter('bootstrap-state'));
    const header = [
      '#!/bin/bash',
      '# --- header rendered by lib/constructs/training-instance.ts: the stack values for every script ---',
      'install -d -m 0755 /etc/bnn-pynq',
      "cat > /etc/bnn-pynq/env <<'BNN_PYNQ_ENV'",
      'BNN_STACK=BnnPynq',
      `BNN_REGION=\${AWS::Region}`,
      `BNN_DATASET_BUCKET=${bucketRef(stack.storage.datasetBucket)}`,
      `BNN_ARTIFACT_BUCKET=${bucketRef(stack.storage.artifactBucket)}`,
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
    const [, instance] = firstOf(variant.json, 'AWS::EC2::Instance');
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
    const roleRef = JSON.stringify({ Ref: logicalId(b.stack.training.role) });
    const policies = resourcesOf(b.json, 'AWS::IAM::Policy').filter(([, p]) =>
      (p.Properties.Roles as Cfn[]).some((r) => JSON.stringify(r) === roleRef),
    );
    expect(policies).toHaveLength(2); // the role's default policy + the tag-itself policy
    return policies.flatMap(([, p]) => p.Properties.PolicyDocument.Statement as Cfn[]);
  };

  test('managed policies: only AmazonSSMManagedInstanceCore', () => {
    const role = defaults.json.Resources[logicalId(defaults.stack.training.role)];
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
    const datasetArn = getAtt(idOf(stack, stack.storage.datasetBucket));
    const artifactArn = getAtt(idOf(stack, stack.storage.artifactBucket));
    const objects = (arn: object, suffix: string) => ({ 'Fn::Join': ['', [arn, suffix]] });
    const bySid: Record<string, Cfn> = Object.fromEntries(policyStatements(defaults).map((s) => [s.Sid, s]));
    for (const statement of Object.values(bySid)) {
      expect(JSON.stringify(statement.Resource)).not.toBe('"*"');
      expect(statement.Effect).toBe('Allow');
    }
    // minimizePolicies (a recommended feature flag) sorts resources and actions.
    expect(bySid.ListBuckets.Resource).toEqual(expect.arrayContaining([datasetArn, artifactArn]));
    expect(bySid.ListBuckets.Resource).toHaveLength(2);
    expect(bySid.ReadDatasets).toMatchObject({ Action: 's3:GetObject', Resource: objects(datasetArn, '/*') });
    expect(bySid.CacheDownloadedDatasets).toMatchObject({
      Action: ['s3:AbortMultipartUpload', 's3:PutObject'],
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
      Action: ['logs:CreateLogStream', 'logs:DescribeLogStreams', 'logs:PutLogEvents'],
      Resource: getAtt(logicalId(stack.training.logGroup)),
    });
    const stateParamId = logicalId(stack.discovery.parameter('bootstrap-state'));
    expect(bySid.ReportBootstrapState.Action).toBe('ssm:PutParameter');
    expect(JSON.stringify(bySid.ReportBootstrapState.Resource)).toContain(`{"Ref":"${stateParamId}"}`);
    expect(bySid.FindStackLogGroup).toMatchObject({ Action: 'logs:DescribeLogGroups' });
    expect(JSON.stringify(bySid.FindStackLogGroup.Resource)).toMatch(/:log-group:\*"\]\]\}$/);
    const instanceId = logicalId(stack.training.instance);
    const profileId = stack.getLogicalId(
      stack.training.node.findChild('InstanceProfile').node.defaultChild as CfnElement,
    );
    expect(bySid.TagItselfWithBootstrapState).toMatchObject({
      Action: 'ec2:CreateTags',
      Condition: {
        ArnEquals: { 'ec2:InstanceProfile': getAtt(profileId) },
        'ForAllValues:StringEquals': { 'aws:TagKeys': [BOOTSTRAP_STATE_TAG] },
      },
    });
    expect(JSON.stringify(bySid.TagItselfWithBootstrapState.Resource)).toMatch(/:instance\/\*"\]\]\}$/);
    // The permission exists before the instance starts: the instance waits for the policy.
    const tagPolicyId = logicalId(stack.training.tagSelfPolicy);
    expect(defaults.json.Resources[instanceId].DependsOn).toContain(tagPolicyId);
    expect(defaults.json.Resources[instanceId].Properties.IamInstanceProfile).toEqual({ Ref: profileId });
  });
});

describe('cost guard', () => {
  test('alarm on low average CPU for idleMinutes whose action stops the instance', () => {
    const { stack, template } = defaults;
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'AWS/EC2',
      MetricName: 'CPUUtilization',
      Dimensions: [{ Name: 'InstanceId', Value: { Ref: logicalId(stack.training.instance) } }],
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
      Value: { Ref: idOf(stack, stack.storage.artifactBucket) },
    });
    expect(resourcesOf(variant.json, 'AWS::SSM::Parameter').map(([, p]) => p.Properties.Name)).toContain(
      '/bnn-pynq/BnnPynqDev/instance-id',
    );
  });

  test('outputs: names plus ready-to-paste s3 sync and ssm commands', () => {
    const { stack, json } = defaults;
    const outputs = json.Outputs as Record<string, Cfn>;
    expect(outputs.DiscoveryPrefix.Value).toBe('/bnn-pynq/BnnPynq/');
    expect(outputs.ArtifactBucket.Value).toEqual({ Ref: idOf(stack, stack.storage.artifactBucket) });
    expect(outputs.FetchParamsCommand.Value).toEqual({
      'Fn::Join': [
        '',
        [
          'aws s3 sync s3://',
          { Ref: idOf(stack, stack.storage.artifactBucket) },
          '/params/ ./params/ --region ',
          { Ref: 'AWS::Region' },
        ],
      ],
    });
    const instanceRef = { Ref: logicalId(stack.training.instance) };
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
      /^(Storage|Placement|Network|Training|CostGuard|Discovery(DatasetBucket|ArtifactBucket|BootstrapState|InstanceId|LogGroup)Parameter)/;
    const resources = Object.fromEntries(
      Object.entries(json.Resources as Record<string, unknown>).filter(([id]) => mine.test(id)),
    );
    const text = JSON.stringify(resources, null, 1)
      .replace(/[0-9a-f]{64}/g, '<asset-hash>')
      .replace(/(# --- scripts\/instance\/user-data\.sh ---\\n)(?:[^"\\]|\\.)*"/, '$1<user-data.sh>"');
    expect(JSON.parse(text)).toMatchSnapshot();
  });
});
