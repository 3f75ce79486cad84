import { type App, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import type * as logs from 'aws-cdk-lib/aws-logs';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { Construct } from 'constructs';
import { type BnnPynqConfig, configFromContext } from '../config';
import { ConversionJob } from '../constructs/conversion-job';
import { CostGuard } from '../constructs/cost-guard';
import { Discovery } from '../constructs/discovery';
import { InstancePlacement } from '../constructs/instance-placement';
import { Network } from '../constructs/network';
import { Storage } from '../constructs/storage';
import { Sweeps } from '../constructs/sweeps';
import { TrainDocument } from '../constructs/train-document';
import { amiParameterFor, TrainingInstance } from '../constructs/training-instance';

export interface BnnPynqStackProps extends StackProps {
  /** Validated configuration (lib/config.ts). The stack name is `config.stackName`. */
  readonly config: BnnPynqConfig;
  /** Folder of instance scripts to ship (default: scripts/instance). */
  readonly instanceScriptsDir?: string;
}

/**
 * The whole deployment: storage, network, training instance, cost guard, discovery. This class only wires
 * constructs together; each concern lives in lib/constructs/. Later constructs (train document, conversion
 * job) are wired in below and register their names with `this.discovery.add(key, value)`.
 */
export class BnnPynqStack extends Stack {
  readonly config: BnnPynqConfig;
  readonly storage: Storage;
  readonly placement: InstancePlacement;
  readonly network: Network;
  readonly training: TrainingInstance;
  /** Undefined when the cost guard is off (idleMinutes = 0). */
  readonly costGuard?: CostGuard;
  readonly discovery: Discovery;
  readonly trainDocument: TrainDocument;
  readonly conversion: ConversionJob;
  /** Undefined with `-c sweeps=false`. */
  readonly sweeps?: Sweeps;

  constructor(scope: Construct, id: string, props: BnnPynqStackProps) {
    super(scope, id, {
      description: 'bnn-pynq-cloud: train BNN-PYNQ LFC networks on AWS and publish PYNQ param folders',
      ...props,
    });
    const { config } = props;
    this.config = config;
    const logRetention = config.logRetentionDays as logs.RetentionDays;

    this.storage = new Storage(this, 'Storage', { retainData: config.retainData });
    const { datasetBucket, artifactBucket } = this.storage;

    // The zone is looked up at deploy time (one offering the type) unless pinned with -c availabilityZone.
    this.placement = new InstancePlacement(this, 'Placement', {
      instanceType: config.instanceType,
      amiParameterName: amiParameterFor(config.instanceType),
      rootVolumeGiB: config.rootVolumeGiB,
      availabilityZone: config.availabilityZone,
      logRetention,
    });
    this.network = new Network(this, 'Network', {
      availabilityZone: config.availabilityZone ?? this.placement.availabilityZone,
      flowLogBucket: this.storage.logBucket,
    });

    this.discovery = new Discovery(this, 'Discovery', { stackName: config.stackName });
    this.discovery.add(
      'dataset-bucket',
      datasetBucket.bucketName,
      'S3 bucket for datasets (datasets/<name>/)',
    );
    this.discovery.add('artifact-bucket', artifactBucket.bucketName, 'S3 bucket for runs/ and params/');
    const bootstrapState = this.discovery.add(
      'bootstrap-state',
      'pending',
      'Bootstrap state of the training instance (written by the instance: installing, ready: gpu, ...)',
    );

    this.training = new TrainingInstance(this, 'Training', {
      stackName: config.stackName,
      vpc: this.network.vpc,
      securityGroup: this.network.instanceSecurityGroup,
      instanceType: config.instanceType,
      spot: config.spot,
      rootVolumeGiB: config.rootVolumeGiB,
      amiGeneration: config.refreshAmi,
      datasetBucket,
      artifactBucket,
      bootstrapStateParameter: bootstrapState,
      logRetention,
      retainLogs: config.retainData,
      scriptsDir: props.instanceScriptsDir,
    });
    // A refused zone or root volume fails the deploy before the instance is launched.
    this.training.instance.node.addDependency(this.placement);
    const { instance } = this.training;
    this.discovery.add('instance-id', instance.instanceId, 'EC2 instance id of the training instance');
    this.discovery.add(
      'log-group',
      this.training.logGroup.logGroupName,
      'CloudWatch log group of the instance and runs',
    );

    if (config.idleMinutes > 0) {
      this.costGuard = new CostGuard(this, 'CostGuard', {
        instance,
        idleMinutes: config.idleMinutes,
        idleCpuPercent: config.idleCpuPercent,
      });
    }

    // --- later constructs are wired in below (train document: issue 4, conversion job: issue 5) ---

    // Issue 4: the SSM Command document `train` (starts bnn-pynq-train@<runId>.service on the instance).
    this.trainDocument = new TrainDocument(this, 'TrainDocument');
    this.discovery.add(
      'train-document',
      this.trainDocument.documentName,
      'SSM Command document that starts a run',
    );

    // Issue 5: the conversion job (Automation `convert` -> Lambda; started when runs/<runId>/model.npz lands).
    this.conversion = new ConversionJob(this, 'Conversion', {
      artifactBucket,
      datasetBucket,
      logRetention,
      retainLogs: config.retainData,
      minAccuracyPercent: config.minAccuracyPercent,
      commandOutput: false, // Discovery prints ConvertCommand
    });
    this.discovery.add(
      'convert-document',
      this.conversion.documentName,
      'SSM Automation document that converts, verifies and publishes a run',
    );

    // Issue 18: sweeps on AWS Batch, built from the same scripts asset as the instance.
    if (config.sweeps) {
      const sweeps = new Sweeps(this, 'Sweeps', {
        stackName: config.stackName,
        vpc: this.network.vpc,
        securityGroup: this.network.instanceSecurityGroup,
        scriptsAsset: this.training.scriptsAsset,
        datasetBucket,
        artifactBucket,
        logRetention,
        retainLogs: config.retainData,
      });
      this.sweeps = sweeps;
      const add = this.discovery.add.bind(this.discovery);
      add('sweep-job-queue', sweeps.spotQueue.jobQueueArn, 'Batch job queue of sweeps on Spot GPUs');
      add(
        'sweep-job-queue-on-demand',
        sweeps.onDemandQueue.jobQueueArn,
        'Batch job queue of sweeps on on-demand GPUs',
      );
      add(
        'sweep-job-definition',
        sweeps.jobDefinition.jobDefinitionArn,
        'Batch job definition of a sweep run',
      );
      add('sweep-image-repository', sweeps.repository.repositoryUri, 'ECR repository of the training image');
      add(
        'sweep-image-project',
        sweeps.imageProject.projectName,
        'CodeBuild project that builds the training image',
      );
      add(
        'sweep-image-tag',
        sweeps.imageTag,
        'Tag of the training image the job definition runs (the scripts asset hash)',
      );
    }
  }
}

/**
 * Builds the app's one stack from the app's context (cdk.json + `-c`) and applies cdk-nag's AwsSolutions
 * pack, so synth fails on any finding not acknowledged (with a reason) next to the resource.
 * Throws ConfigError (lib/config.ts) for a bad context value.
 *
 * The stack is environment-agnostic: it deploys to the account/region of the AWS profile in use, and
 * synth needs no credentials and does no lookups (the AMI is resolved by EC2 at launch, the Availability
 * Zone by a deploy-time lookup: lib/constructs/instance-placement.ts).
 */
export function buildApp(app: App, options: { instanceScriptsDir?: string } = {}): BnnPynqStack {
  const config = configFromContext(
    (key) => app.node.tryGetContext(key),
    Object.keys(app.node.getAllContext()),
  );
  const stack = new BnnPynqStack(app, config.stackName, {
    stackName: config.stackName,
    config,
    instanceScriptsDir: options.instanceScriptsDir,
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return stack;
}
