import fs from 'node:fs';
import path from 'node:path';
import { ArnFormat, Aws, CfnElement, RemovalPolicy, Stack, Tags, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3assets from 'aws-cdk-lib/aws-s3-assets';
import type * as ssm from 'aws-cdk-lib/aws-ssm';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { AMI_PARAMETERS, ConfigError, type Device, deviceForInstanceType } from '../config';
import { BOOTSTRAP_STATE_TAG, DATASET_ROOT_PREFIX } from '../layout';

// Defined in lib/config.ts (light: `bnn-pynq preflight` checks the same parameter without loading aws-cdk-lib).
export { AMI_PARAMETERS };

/** Folder uploaded as the instance-scripts asset; its `user-data.sh` is inlined into the user data. */
export const INSTANCE_SCRIPTS_DIR = path.resolve(__dirname, '..', '..', 'scripts', 'instance');
export const USER_DATA_ENTRY = 'user-data.sh';
/** Where the user-data header writes the stack's values for every instance script to source. */
export const INSTANCE_ENV_FILE = '/etc/bnn-pynq/env';
/** EC2 refuses user data above 16 KiB; leave room for the header. */
const USER_DATA_SCRIPT_LIMIT = 14 * 1024;

export interface TrainingInstanceProps {
  /** Name of the stack: the instance's Name tag and role description. */
  readonly stackName: string;
  readonly vpc: ec2.IVpc;
  /**
   * Where the instance goes (its subnet decides its Availability Zone).
   * @default - the VPC's public subnets (the first one)
   */
  readonly vpcSubnets?: ec2.SubnetSelection;
  readonly securityGroup: ec2.ISecurityGroup;
  /**
   * EC2 instance type. The device (GPU or CPU), and so the AMI, follow from it (lib/config.ts
   * `deviceForInstanceType`); a type the training environment cannot use is refused.
   */
  readonly instanceType: string;
  /**
   * A persistent Spot request that stops (not terminates) on interruption, instead of on-demand.
   * @default false
   */
  readonly spot?: boolean;
  /**
   * Root volume (encrypted gp3) in GiB; at least the AMI's root snapshot (the placement lookup checks it).
   * @default 100
   */
  readonly rootVolumeGiB?: number;
  /**
   * Changing this value replaces the instance once, so it launches from the AMI its SSM parameter names
   * now (a fresh bootstrap, ~15-20 min; buckets and runs stay). Without a change the instance keeps the
   * AMI it was launched from: the parameter is resolved by EC2 at launch, never at deploy.
   * @default - the AMI resolved at the first launch is kept
   */
  readonly amiGeneration?: string;
  readonly datasetBucket: s3.IBucket;
  readonly artifactBucket: s3.IBucket;
  /** The discovery parameter the instance reports its bootstrap state in. */
  readonly bootstrapStateParameter: ssm.IStringParameter;
  /**
   * How long CloudWatch keeps the instance's logs.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Keep the log group when the stack is destroyed.
   * @default true
   */
  readonly retainLogs?: boolean;
  /**
   * Folder of instance scripts (tests point it elsewhere).
   * @default scripts/instance of this repository
   */
  readonly scriptsDir?: string;
}

/** The `/etc/bnn-pynq/env` lines (values may be CloudFormation tokens, resolved at deploy time). */
export function renderEnvFile(values: Record<string, string>): string[] {
  return Object.entries(values).map(([key, value]) => `${key}=${value}`);
}

/** The public AMI parameter of an instance type (GPU: DLAMI; CPU: Ubuntu); throws for a refused type. */
export function amiParameterFor(instanceType: string): string {
  const device = deviceForInstanceType(instanceType);
  if (typeof device !== 'string')
    throw new ConfigError(`invalid config 'instanceType' = '${instanceType}': ${device.refused}`);
  return AMI_PARAMETERS[device];
}

/** Instance tag holding the AMI generation (`amiGeneration`) the instance was launched for. */
export const AMI_GENERATION_TAG = 'bnn-pynq:ami-generation';

/**
 * The training instance: GPU (or CPU) EC2 instance of the configured type, SSM-managed (no key pair, no
 * inbound rules), IMDSv2 only, encrypted gp3 root volume, stop (not terminate) on shutdown, optionally a
 * persistent Spot request that stops on interruption. Its user data is a rendered header (writes
 * /etc/bnn-pynq/env) followed by scripts/instance/user-data.sh, which fetches the scripts asset.
 *
 * The AMI: a launch template whose ImageId is `resolve:ssm:<public parameter>`, which EC2 resolves when it
 * launches the instance. The template text never changes when AWS publishes a new image, so CloudFormation
 * sees no change and the instance is never replaced for it; `amiGeneration` is the explicit way to move.
 */
export class TrainingInstance extends Construct {
  readonly instance: ec2.Instance;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;
  readonly scriptsAsset: s3assets.Asset;
  /** GPU or CPU, from the instance type. */
  readonly device: Device;
  readonly amiParameterName: string;
  /** Carries the AMI (resolved at launch), IMDSv2 and, with spot, the Spot options. */
  readonly launchTemplate: ec2.LaunchTemplate;
  /** Cancels the persistent Spot request on stack deletion (only when spot is on). */
  readonly spotRequestCanceller?: cr.AwsCustomResource;
  /** Lets the instance tag itself with its bootstrap state; exists before the instance starts. */
  readonly tagSelfPolicy: iam.Policy;

  constructor(scope: Construct, id: string, props: TrainingInstanceProps) {
    super(scope, id);
    const scriptsDir = props.scriptsDir ?? INSTANCE_SCRIPTS_DIR;
    const entryPath = path.join(scriptsDir, USER_DATA_ENTRY);
    if (!fs.existsSync(entryPath)) {
      throw new Error(
        `${this.node.path}: ${entryPath} is missing: the training instance's user data is built from it.`,
      );
    }
    const entryScript = fs.readFileSync(entryPath, 'utf8');
    if (Buffer.byteLength(entryScript) > USER_DATA_SCRIPT_LIMIT) {
      throw new Error(
        `${this.node.path}: ${entryPath} is ${Buffer.byteLength(entryScript)} bytes; EC2 user data is limited to 16 KiB. ` +
          'Keep it a small launcher and put the work in bootstrap.sh (shipped in the scripts asset).',
      );
    }
    const device = deviceForInstanceType(props.instanceType);
    if (typeof device !== 'string') {
      throw new Error(`${this.node.path}: instanceType ${props.instanceType}: ${device.refused}`);
    }
    this.device = device;
    const rootVolumeGiB = props.rootVolumeGiB ?? 100;

    this.logGroup = new logs.LogGroup(this, 'LogGroup', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: (props.retainLogs ?? true) ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });

    // Byte caches from local test runs must not change the asset (and so the instance's user data).
    this.scriptsAsset = new s3assets.Asset(this, 'ScriptsAsset', {
      path: scriptsDir,
      exclude: ['**/__pycache__', '**/*.pyc', '**/.pytest_cache'],
    });

    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
      description: `bnn-pynq ${props.stackName} training instance`,
      managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('AmazonSSMManagedInstanceCore')],
    });
    this.grantBaseAccess(props);
    const instanceProfile = new iam.InstanceProfile(this, 'InstanceProfile', { role: this.role });

    this.amiParameterName = AMI_PARAMETERS[device];

    const userData = ec2.UserData.forLinux();
    const env = renderEnvFile({
      BNN_STACK: props.stackName,
      BNN_REGION: Aws.REGION,
      BNN_DATASET_BUCKET: props.datasetBucket.bucketName,
      BNN_ARTIFACT_BUCKET: props.artifactBucket.bucketName,
      BNN_LOG_GROUP: this.logGroup.logGroupName,
      BNN_STATE_PARAM: props.bootstrapStateParameter.parameterName,
      BNN_ASSET_URL: this.scriptsAsset.s3ObjectUrl,
      BNN_DEVICE_HINT: device,
    });
    userData.addCommands(
      '# --- header rendered by lib/constructs/training-instance.ts: the stack values for every script ---',
      `install -d -m 0755 ${path.posix.dirname(INSTANCE_ENV_FILE)}`,
      `cat > ${INSTANCE_ENV_FILE} <<'BNN_PYNQ_ENV'`,
      ...env,
      'BNN_PYNQ_ENV',
      `chmod 0644 ${INSTANCE_ENV_FILE}`,
      `# --- scripts/instance/${USER_DATA_ENTRY} ---`,
      entryScript,
    );

    // The launch template holds what must not be resolved at deploy time (the AMI) and what
    // AWS::EC2::Instance has no property for (Spot market options). Stop-on-interruption requires a
    // persistent request, and keeps the root volume (environment, datasets) for the restart.
    this.launchTemplate = new ec2.LaunchTemplate(this, 'LaunchTemplate', {
      machineImage: ec2.MachineImage.resolveSsmParameterAtLaunch(this.amiParameterName, {
        os: ec2.OperatingSystemType.LINUX,
      }),
      httpTokens: ec2.LaunchTemplateHttpTokens.REQUIRED,
      ...(props.spot
        ? {
            spotOptions: {
              requestType: ec2.SpotRequestType.PERSISTENT,
              interruptionBehavior: ec2.SpotInstanceInterruption.STOP,
            },
          }
        : {}),
    });
    // The instance's own user data and Name tag are what it gets; the template adds no defaults of its own.
    const cfnTemplate = this.launchTemplate.node.defaultChild as ec2.CfnLaunchTemplate;
    cfnTemplate.addPropertyDeletionOverride('LaunchTemplateData.UserData');
    Tags.of(this.launchTemplate).remove('Name');
    if (props.amiGeneration) {
      // Part of the template's data: a new value makes a new template version, and a new version in the
      // instance's LaunchTemplate property replaces the instance (which then resolves the parameter anew).
      Tags.of(this.launchTemplate).add(AMI_GENERATION_TAG, props.amiGeneration);
    }

    this.instance = new ec2.Instance(this, 'Instance', {
      vpc: props.vpc,
      vpcSubnets: props.vpcSubnets ?? { subnetType: ec2.SubnetType.PUBLIC },
      securityGroup: props.securityGroup,
      instanceType: new ec2.InstanceType(props.instanceType),
      // The image comes from the launch template; ImageId is removed from the instance below.
      machineImage: ec2.MachineImage.resolveSsmParameterAtLaunch(this.amiParameterName),
      userData,
      instanceProfile,
      instanceName: `${props.stackName}-training`,
      httpTokens: ec2.HttpTokens.REQUIRED,
      httpEndpoint: true,
      instanceInitiatedShutdownBehavior: ec2.InstanceInitiatedShutdownBehavior.STOP,
      blockDevices: [
        {
          deviceName: '/dev/sda1', // root device of the Ubuntu and DLAMI Ubuntu images
          volume: ec2.BlockDeviceVolume.ebs(rootVolumeGiB, {
            volumeType: ec2.EbsDeviceVolumeType.GP3,
            encrypted: true,
            deleteOnTermination: true,
          }),
        },
      ],
      propagateTagsToVolumeOnCreation: true,
    });
    const cfnInstance = this.instance.node.defaultChild as ec2.CfnInstance;
    cfnInstance.addPropertyDeletionOverride('ImageId');
    cfnInstance.launchTemplate = {
      launchTemplateId: this.launchTemplate.launchTemplateId,
      version: this.launchTemplate.latestVersionNumber,
    };
    if (props.spot) this.spotRequestCanceller = this.cancelSpotRequestOnDelete();

    // The instance tags itself with its bootstrap state from its first seconds, so the permission must
    // exist before it starts: the policy names the instance profile (not the instance, which would be a
    // cycle), and the instance depends on the policy.
    this.tagSelfPolicy = new iam.Policy(this, 'TagSelfPolicy', {
      roles: [this.role],
      statements: [
        new iam.PolicyStatement({
          sid: 'TagItselfWithBootstrapState',
          actions: ['ec2:CreateTags'],
          resources: [Stack.of(this).formatArn({ service: 'ec2', resource: 'instance', resourceName: '*' })],
          conditions: {
            ArnEquals: { 'ec2:InstanceProfile': instanceProfile.instanceProfileArn },
            'ForAllValues:StringEquals': { 'aws:TagKeys': [BOOTSTRAP_STATE_TAG] },
          },
        }),
      ],
    });
    cfnInstance.node.addDependency(this.tagSelfPolicy);

    this.acknowledgeFindings(props);
  }

  /**
   * A persistent Spot request outlives its instance: when CloudFormation terminates the instance (cdk destroy,
   * replacement), EC2 would launch a new one from the still-open request, which would keep costing money and
   * block the subnet's deletion. This custom resource records the instance's request id and cancels the
   * request on delete; it depends on the instance, so it is deleted (request cancelled) before the instance.
   */
  private cancelSpotRequestOnDelete(): cr.AwsCustomResource {
    const stack = Stack.of(this);
    const recordRequestId: cr.AwsSdkCall = {
      service: 'EC2',
      action: 'describeInstances',
      parameters: { InstanceIds: [this.instance.instanceId] },
      physicalResourceId: cr.PhysicalResourceId.fromResponse(
        'Reservations.0.Instances.0.SpotInstanceRequestId',
      ),
      outputPaths: ['Reservations.0.Instances.0.SpotInstanceRequestId'],
    };
    const canceller = new cr.AwsCustomResource(this, 'SpotRequestCanceller', {
      resourceType: 'Custom::BnnPynqSpotRequest',
      onCreate: recordRequestId,
      // A replaced instance has a new request: the new physical id makes CloudFormation send a Delete for the
      // old one, which cancels the old request.
      onUpdate: recordRequestId,
      onDelete: {
        service: 'EC2',
        action: 'cancelSpotInstanceRequests',
        parameters: { SpotInstanceRequestIds: [new cr.PhysicalResourceIdReference()] },
        ignoreErrorCodesMatching: 'InvalidSpotInstanceRequestID.*',
      },
      policy: cr.AwsCustomResourcePolicy.fromStatements([
        new iam.PolicyStatement({ actions: ['ec2:DescribeInstances'], resources: ['*'] }),
        new iam.PolicyStatement({
          actions: ['ec2:CancelSpotInstanceRequests'],
          resources: [
            stack.formatArn({ service: 'ec2', resource: 'spot-instances-request', resourceName: '*' }),
          ],
        }),
      ]),
      installLatestAwsSdk: false,
    });
    canceller.node.addDependency(this.instance);
    const policy = Validations.of(canceller);
    policy.acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'ec2:DescribeInstances has no resource-level permissions; it only reads the Spot request id.',
    });
    policy.acknowledge({
      id: 'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:spot-instances-request/*]',
      reason:
        'The Spot request id exists only after launch; cancelling is limited to Spot requests of this account/region.',
    });
    Validations.of(canceller.grantPrincipal as iam.Role).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      reason:
        'CDK’s AwsCustomResource provider Lambda (created by CDK, not editable) logs with the basic execution policy.',
    });
    return canceller;
  }

  private grantBaseAccess(props: TrainingInstanceProps): void {
    const { datasetBucket, artifactBucket } = props;
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ListBuckets',
        actions: ['s3:ListBucket', 's3:GetBucketLocation'],
        resources: [datasetBucket.bucketArn, artifactBucket.bucketArn],
      }),
    );
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ReadDatasets',
        actions: ['s3:GetObject'],
        resources: [datasetBucket.arnForObjects('*')],
      }),
    );
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'CacheDownloadedDatasets',
        actions: ['s3:PutObject', 's3:AbortMultipartUpload'],
        resources: [datasetBucket.arnForObjects(`${DATASET_ROOT_PREFIX}*`)],
      }),
    );
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ReadWriteArtifacts',
        actions: [
          's3:GetObject',
          's3:PutObject',
          's3:DeleteObject',
          's3:AbortMultipartUpload',
          's3:GetObjectTagging',
          's3:PutObjectTagging',
        ],
        resources: [artifactBucket.arnForObjects('*')],
      }),
    );
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ReadInstanceScripts',
        actions: ['s3:GetObject'],
        resources: [this.scriptsAsset.bucket.arnForObjects(this.scriptsAsset.s3ObjectKey)],
      }),
    );
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'WriteStackLogs',
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents', 'logs:DescribeLogStreams'],
        resources: [this.logGroup.logGroupArn],
      }),
    );
    this.role.addToPolicy(
      new iam.PolicyStatement({
        // The SSM agent checks that the log group exists before streaming Run Command output into it
        // (send-command --cloud-watch-output-config); DescribeLogGroups has no per-group resource.
        sid: 'FindStackLogGroup',
        actions: ['logs:DescribeLogGroups'],
        resources: [
          Stack.of(this).formatArn({
            service: 'logs',
            resource: 'log-group',
            resourceName: '*',
            arnFormat: ArnFormat.COLON_RESOURCE_NAME,
          }),
        ],
      }),
    );
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ReportBootstrapState',
        actions: ['ssm:PutParameter'],
        resources: [props.bootstrapStateParameter.parameterArn],
      }),
    );
  }

  /** Each cdk-nag finding this construct accepts, one by one, with the reason. */
  private acknowledgeFindings(props: TrainingInstanceProps): void {
    const stack = Stack.of(this);
    // The bucket ARN as cdk-nag prints it: `<LogicalId.Arn>` for a bucket of this app, the ARN itself otherwise
    // (an imported bucket: `s3.Bucket.fromBucketName`).
    const arnOf = (bucket: s3.IBucket) => {
      const cfn = bucket.node.defaultChild;
      if (cfn instanceof CfnElement) return `<${stack.getLogicalId(cfn)}.Arn>`;
      const arn = stack.resolve(bucket.bucketArn);
      return typeof arn === 'string'
        ? arn.replace(/^arn:aws:/, 'arn:<AWS::Partition>:')
        : JSON.stringify(arn);
    };
    const role = Validations.of(this.role);
    role.acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AmazonSSMManagedInstanceCore]',
      reason:
        'The AWS-maintained SSM core policy is what makes the instance reachable by SSM (Run Command, sessions).',
    });
    role.acknowledge({
      id: `AwsSolutions-IAM5[Resource::${arnOf(props.datasetBucket)}/*]`,
      reason:
        'The instance reads any dataset in the stack’s own DatasetBucket; dataset names are chosen at run time.',
    });
    role.acknowledge({
      id: `AwsSolutions-IAM5[Resource::${arnOf(props.datasetBucket)}/${DATASET_ROOT_PREFIX}*]`,
      reason:
        'The instance caches downloaded datasets under datasets/ of its own DatasetBucket (names set at run time).',
    });
    role.acknowledge({
      id: `AwsSolutions-IAM5[Resource::${arnOf(props.artifactBucket)}/*]`,
      reason:
        'The instance writes runs/<runId>/... of the stack’s own ArtifactBucket; run ids are made at run time.',
    });
    role.acknowledge({
      id: 'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:*]',
      reason: 'logs:DescribeLogGroups (read-only, used by the SSM agent) cannot be limited to one log group.',
    });
    Validations.of(this.tagSelfPolicy).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:instance/*]',
      reason:
        'The instance must be able to tag itself before it exists (no instance id yet): the condition limits it to instances with this stack’s instance profile and to the bootstrap-state tag key.',
    });
    const instance = Validations.of(this.instance);
    instance.acknowledge({
      id: 'AwsSolutions-EC28',
      reason:
        'Detailed (1-minute) monitoring costs extra; the idle alarm works on the free 5-minute metrics.',
    });
    instance.acknowledge({
      id: 'AwsSolutions-EC29',
      reason: 'The instance is disposable (all data is in S3) and `cdk destroy` must be able to remove it.',
    });
  }
}
