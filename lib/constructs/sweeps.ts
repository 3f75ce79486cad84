import { Duration, RemovalPolicy, Size, Stack, Validations } from 'aws-cdk-lib';
import * as batch from 'aws-cdk-lib/aws-batch';
import * as codebuild from 'aws-cdk-lib/aws-codebuild';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as s3assets from 'aws-cdk-lib/aws-s3-assets';
import { Construct } from 'constructs';
import { DATASET_ROOT_PREFIX, RUNS_ROOT_PREFIX, SWEEPS_ROOT_PREFIX } from '../layout';
import { SWEEP_JOB_RESOURCES } from '../sweep/job-resources';
import { SWEEP_JOB_ATTEMPTS, SWEEP_RETRY_RULES } from '../sweep/retry';

/**
 * GPU families a sweep job may land on: NVIDIA T4 (g4dn), A10G (g5), L4 (g6). All are compute capability
 * 7.5–8.9, which the pinned libgpuarray 0.7.6 / CUDA 11.8 can address; Blackwell families cannot.
 */
export const SWEEP_INSTANCE_CLASSES = [ec2.InstanceClass.G4DN, ec2.InstanceClass.G5, ec2.InstanceClass.G6];

export { SWEEP_JOB_RESOURCES };

/** Dockerfile inside the scripts asset, relative to its root. */
export const IMAGE_DOCKERFILE = 'batch/Dockerfile';

export interface SweepsProps {
  readonly stackName: string;
  readonly vpc: ec2.IVpc;
  /** Security group of the Batch instances (no inbound rules needed: jobs only call out). */
  readonly securityGroup: ec2.ISecurityGroup;
  /** The training instance's scripts asset: CodeBuild builds the image from exactly these files. */
  readonly scriptsAsset: s3assets.Asset;
  readonly datasetBucket: s3.IBucket;
  readonly artifactBucket: s3.IBucket;
  /**
   * Upper bound of each compute environment (the account's Spot/on-demand G-and-VT vCPU quota caps it too).
   * @default 64
   */
  readonly maxvCpus?: number;
  /**
   * Root volume of each Batch instance in GiB (gp3, encrypted): the ECS GPU AMI plus the image (~12 GiB
   * unpacked) plus a run's datasets and checkpoints.
   * @default 100
   */
  readonly rootVolumeGiB?: number;
  /**
   * How long CloudWatch keeps the jobs' logs.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Keep the jobs' log group when the stack is destroyed.
   * @default true
   */
  readonly retainLogs?: boolean;
  /**
   * Cancel a job that waited this long in RUNNABLE because no capacity could be had (Spot or on-demand).
   * @default Duration.hours(4)
   */
  readonly capacityWait?: Duration;
}

/**
 * Many training runs at once on AWS Batch (issue 18, docs/sweeps.md): an ECR repository, a CodeBuild project
 * that builds the training image from the instance's own scripts asset (bootstrap.sh's `image` target is its
 * only install step; tagged by the asset hash, so image and instance cannot drift), a Spot and an on-demand
 * GPU compute environment that scale to 0 vCPUs, a job queue for each that cancels jobs stuck in RUNNABLE, and
 * one job definition whose retry rules resume runs after Spot reclaims and crashes but never after exit 2.
 * Nothing here costs money while idle except the images stored in ECR.
 */
export class Sweeps extends Construct {
  readonly repository: ecr.Repository;
  readonly imageProject: codebuild.Project;
  /** The image tag: the scripts asset's hash. */
  readonly imageTag: string;
  readonly launchTemplate: ec2.LaunchTemplate;
  readonly spotEnvironment: batch.ManagedEc2EcsComputeEnvironment;
  readonly onDemandEnvironment: batch.ManagedEc2EcsComputeEnvironment;
  readonly spotQueue: batch.JobQueue;
  readonly onDemandQueue: batch.JobQueue;
  readonly jobDefinition: batch.EcsJobDefinition;
  readonly jobRole: iam.Role;
  readonly executionRole: iam.Role;
  readonly instanceRole: iam.Role;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: SweepsProps) {
    super(scope, id);
    const maxvCpus = props.maxvCpus ?? 64;
    if (!Number.isInteger(maxvCpus) || maxvCpus < SWEEP_JOB_RESOURCES.vcpus) {
      throw new Error(
        `${this.node.path}: maxvCpus must be a whole number ≥ ${SWEEP_JOB_RESOURCES.vcpus}, got ${maxvCpus}`,
      );
    }
    const stack = Stack.of(this);
    this.imageTag = props.scriptsAsset.assetHash;

    // --- Image: ECR + CodeBuild from the scripts asset ------------------------------------------------
    this.repository = new ecr.Repository(this, 'Repository', {
      imageScanOnPush: true,
      imageTagMutability: ecr.TagMutability.IMMUTABLE,
      encryption: ecr.RepositoryEncryption.AES_256,
      // Images are rebuilt from the scripts asset on demand: nothing in them is data to keep.
      removalPolicy: RemovalPolicy.DESTROY,
      emptyOnDelete: true,
      lifecycleRules: [{ description: 'keep the 3 newest images', maxImageCount: 3 }],
    });

    this.imageProject = new codebuild.Project(this, 'ImageBuild', {
      description: `bnn-pynq ${props.stackName}: training image from the instance scripts asset`,
      source: codebuild.Source.s3({
        bucket: props.scriptsAsset.bucket,
        path: props.scriptsAsset.s3ObjectKey,
      }),
      environment: {
        buildImage: codebuild.LinuxBuildImage.STANDARD_7_0,
        computeType: codebuild.ComputeType.MEDIUM,
        privileged: true, // docker build
      },
      environmentVariables: {
        REPOSITORY_URI: { value: this.repository.repositoryUri },
        IMAGE_TAG: { value: this.imageTag },
      },
      timeout: Duration.minutes(90),
      buildSpec: codebuild.BuildSpec.fromObject({
        version: '0.2',
        phases: {
          pre_build: {
            commands: [
              'aws ecr get-login-password --region "$AWS_DEFAULT_REGION" | docker login --username AWS --password-stdin "$(echo "$REPOSITORY_URI" | cut -d/ -f1)"',
            ],
          },
          build: {
            commands: [
              `docker build --pull -f ${IMAGE_DOCKERFILE} -t "$REPOSITORY_URI:$IMAGE_TAG" .`,
              'docker push "$REPOSITORY_URI:$IMAGE_TAG"',
            ],
          },
        },
      }),
    });
    this.repository.grantPullPush(this.imageProject);

    // --- Compute: Spot and on-demand GPU environments, min 0 vCPUs --------------------------------------
    this.launchTemplate = new ec2.LaunchTemplate(this, 'LaunchTemplate', {
      requireImdsv2: true,
      // Hop limit 1: containers cannot reach the instance's metadata (and its role); jobs use their job role.
      httpPutResponseHopLimit: 1,
      blockDevices: [
        {
          deviceName: '/dev/xvda', // root device of the Amazon Linux 2023 ECS AMIs
          volume: ec2.BlockDeviceVolume.ebs(props.rootVolumeGiB ?? 100, {
            volumeType: ec2.EbsDeviceVolumeType.GP3,
            encrypted: true,
            deleteOnTermination: true,
          }),
        },
      ],
    });
    this.instanceRole = new iam.Role(this, 'InstanceRole', {
      assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
      description: `bnn-pynq ${props.stackName} Batch GPU instances (ECS agent only)`,
      managedPolicies: [
        iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AmazonEC2ContainerServiceforEC2Role'),
      ],
    });
    const environment = (name: string, spot: boolean) =>
      new batch.ManagedEc2EcsComputeEnvironment(this, name, {
        vpc: props.vpc,
        vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
        securityGroups: [props.securityGroup],
        spot,
        allocationStrategy: spot
          ? batch.AllocationStrategy.SPOT_PRICE_CAPACITY_OPTIMIZED
          : batch.AllocationStrategy.BEST_FIT_PROGRESSIVE,
        instanceClasses: SWEEP_INSTANCE_CLASSES,
        useOptimalInstanceClasses: false,
        images: [{ imageType: batch.EcsMachineImageType.ECS_AL2023_NVIDIA }],
        minvCpus: 0,
        maxvCpus,
        launchTemplate: this.launchTemplate,
        instanceRole: this.instanceRole,
        updateToLatestImageVersion: true,
      });
    this.spotEnvironment = environment('SpotEnvironment', true);
    this.onDemandEnvironment = environment('OnDemandEnvironment', false);

    const stuck = (reason: batch.JobStateTimeLimitActionsReason, maxTime: Duration) => ({
      action: batch.JobStateTimeLimitActionsAction.CANCEL,
      state: batch.JobStateTimeLimitActionsState.RUNNABLE,
      reason,
      maxTime,
    });
    const stuckActions = [
      // No instance to be had (Spot capacity, or the vCPU quota): the job would wait forever.
      stuck(
        batch.JobStateTimeLimitActionsReason.INSUFFICIENT_INSTANCE_CAPACITY,
        props.capacityWait ?? Duration.hours(4),
      ),
      stuck(batch.JobStateTimeLimitActionsReason.COMPUTE_ENVIRONMENT_MAX_RESOURCE, Duration.minutes(10)),
      stuck(batch.JobStateTimeLimitActionsReason.JOB_RESOURCE_REQUIREMENT, Duration.minutes(10)),
    ];
    this.spotQueue = new batch.JobQueue(this, 'SpotQueue', {
      computeEnvironments: [{ computeEnvironment: this.spotEnvironment, order: 1 }],
      jobStateTimeLimitActions: stuckActions,
    });
    this.onDemandQueue = new batch.JobQueue(this, 'OnDemandQueue', {
      computeEnvironments: [{ computeEnvironment: this.onDemandEnvironment, order: 1 }],
      jobStateTimeLimitActions: stuckActions,
    });

    // --- The job ----------------------------------------------------------------------------------------
    this.logGroup = new logs.LogGroup(this, 'JobLogs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: props.retainLogs === false ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
    });
    const ecsTasks = new iam.ServicePrincipal('ecs-tasks.amazonaws.com', {
      conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
    });
    this.executionRole = new iam.Role(this, 'ExecutionRole', {
      assumedBy: ecsTasks,
      description: 'bnn-pynq sweep jobs: pull the training image, write the job log',
    });
    this.repository.grantPull(this.executionRole);
    this.logGroup.grantWrite(this.executionRole);
    this.jobRole = new iam.Role(this, 'JobRole', {
      assumedBy: ecsTasks,
      description: 'bnn-pynq sweep jobs: read sweeps/ and datasets, write runs/<runId>/',
    });
    this.grantJobAccess(props);

    this.jobDefinition = new batch.EcsJobDefinition(this, 'JobDefinition', {
      container: new batch.EcsEc2ContainerDefinition(this, 'Container', {
        image: ecs.ContainerImage.fromEcrRepository(this.repository, this.imageTag),
        gpu: SWEEP_JOB_RESOURCES.gpus,
        cpu: SWEEP_JOB_RESOURCES.vcpus,
        memory: Size.mebibytes(SWEEP_JOB_RESOURCES.memoryMiB),
        jobRole: this.jobRole,
        executionRole: this.executionRole,
        logging: ecs.LogDriver.awsLogs({ logGroup: this.logGroup, streamPrefix: 'sweeps' }),
        // An init process as PID 1 forwards SIGTERM (Spot drain, terminate) to the entrypoint's trap.
        linuxParameters: new batch.LinuxParameters(this, 'Linux', { initProcessEnabled: true }),
        environment: {
          BNN_STACK: props.stackName,
          BNN_REGION: stack.region,
          BNN_DATASET_BUCKET: props.datasetBucket.bucketName,
          BNN_ARTIFACT_BUCKET: props.artifactBucket.bucketName,
          BNN_DEVICE_HINT: 'gpu',
          BNN_BATCH: 'true',
          // run-training.sh declares a run failed on the attempt Batch will not repeat.
          BNN_MAX_ATTEMPTS: String(SWEEP_JOB_ATTEMPTS),
        },
      }),
      retryAttempts: SWEEP_JOB_ATTEMPTS,
      retryStrategies: SWEEP_RETRY_RULES.map((rule) =>
        batch.RetryStrategy.of(
          rule.action === 'RETRY' ? batch.Action.RETRY : batch.Action.EXIT,
          batch.Reason.custom({
            onExitCode: rule.onExitCode,
            onReason: rule.onReason,
            onStatusReason: rule.onStatusReason,
          }),
        ),
      ),
      propagateTags: true,
    });

    this.acknowledgeFindings(props);
  }

  private grantJobAccess(props: SweepsProps): void {
    const { datasetBucket, artifactBucket } = props;
    const add = (sid: string, actions: string[], resources: string[]) =>
      this.jobRole.addToPolicy(new iam.PolicyStatement({ sid, actions, resources }));
    add(
      'ListBuckets',
      ['s3:ListBucket', 's3:GetBucketLocation'],
      [datasetBucket.bucketArn, artifactBucket.bucketArn],
    );
    add('ReadDatasets', ['s3:GetObject'], [datasetBucket.arnForObjects(`${DATASET_ROOT_PREFIX}*`)]);
    add(
      'CacheDownloadedDatasets',
      ['s3:PutObject', 's3:AbortMultipartUpload'],
      [datasetBucket.arnForObjects(`${DATASET_ROOT_PREFIX}*`)],
    );
    add('ReadSweeps', ['s3:GetObject'], [artifactBucket.arnForObjects(`${SWEEPS_ROOT_PREFIX}*`)]);
    add(
      'ReadWriteRuns',
      [
        's3:GetObject',
        's3:PutObject',
        's3:AbortMultipartUpload',
        's3:GetObjectTagging',
        's3:PutObjectTagging',
      ],
      [artifactBucket.arnForObjects(`${RUNS_ROOT_PREFIX}*`)],
    );
  }

  /** Each cdk-nag finding this construct accepts, one by one, with the reason. */
  private acknowledgeFindings(props: SweepsProps): void {
    const stack = Stack.of(this);
    const arnOf = (bucket: s3.IBucket) =>
      `<${stack.getLogicalId(bucket.node.defaultChild as s3.CfnBucket)}.Arn>`;
    Validations.of(this.instanceRole).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role]',
      reason:
        'The AWS-maintained ECS instance policy is what lets the ECS agent on Batch instances register and run tasks.',
    });
    const job = Validations.of(this.jobRole);
    for (const [resource, reason] of [
      [
        `${arnOf(props.datasetBucket)}/${DATASET_ROOT_PREFIX}*`,
        'A job reads (and caches) the dataset its run names; names are chosen at run time.',
      ],
      [
        `${arnOf(props.artifactBucket)}/${SWEEPS_ROOT_PREFIX}*`,
        'A job reads sweeps/<sweepId>/sweep.json of its sweep; sweep ids are made at submit time.',
      ],
      [
        `${arnOf(props.artifactBucket)}/${RUNS_ROOT_PREFIX}*`,
        'A job writes runs/<runId>/ of its run; run ids are made at submit time.',
      ],
    ] as const) {
      job.acknowledge({ id: `AwsSolutions-IAM5[Resource::${resource}]`, reason });
    }
    Validations.of(this.executionRole).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'ecr:GetAuthorizationToken has no resource-level permissions; pulls are limited to the sweep repository.',
    });
    const build = Validations.of(this.imageProject);
    build.acknowledge({
      id: 'AwsSolutions-CB3',
      reason:
        'Privileged mode is what lets CodeBuild run docker build; the build runs only our scripts asset.',
    });
    build.acknowledge({
      id: 'AwsSolutions-CB4',
      reason:
        'The build produces only a public-software image (no secrets); CodeBuild encrypts artifacts with the AWS-managed key.',
    });
    const project = `<${stack.getLogicalId(this.imageProject.node.defaultChild as codebuild.CfnProject)}>`;
    for (const id of ['Action::s3:GetObject*', 'Action::s3:GetBucket*', 'Action::s3:List*']) {
      build.acknowledge({
        id: `AwsSolutions-IAM5[${id}]`,
        reason:
          'CodeBuild’s own S3-source grant: read-only, limited to the scripts asset bucket and its object key.',
      });
    }
    for (const resource of [
      `arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:/aws/codebuild/${project}:*`,
      `arn:<AWS::Partition>:codebuild:<AWS::Region>:<AWS::AccountId>:report-group/${project}-*`,
    ]) {
      build.acknowledge({
        id: `AwsSolutions-IAM5[Resource::${resource}]`,
        reason:
          'CodeBuild’s own grant for the log streams and report groups of this one project (named per build).',
      });
    }
    build.acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'ecr:GetAuthorizationToken has no resource-level permissions; pushes are limited to the sweep repository.',
    });
  }
}
