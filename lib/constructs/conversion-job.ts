import path from 'node:path';
import { CfnOutput, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import { accuracyFloorProblem, CONVERSION_ENV, DEFAULT_MIN_ACCURACY_PERCENT } from '../conversion/config';
import { CHECK_OUTCOME_SCRIPT, CHECK_STEP_NAME, CONVERT_STEP_NAME } from '../conversion/outcome';
import {
  CONVERT_AUTOMATION_PARAMETERS,
  DATASET_NAME_PATTERN,
  DEFAULT_NETWORK,
  IDX_FILES,
  MANIFEST_FILE,
  NETWORKS,
  RUN_ID_PATTERN,
} from '../layout';

export interface ConversionJobProps {
  /** Holds `runs/<runId>/model.npz`; receives run params, verify.json and the published `params/`. EventBridge must be enabled on it. */
  readonly artifactBucket: s3.IBucket;
  /** Holds `datasets/<dataset>/` with the test idx files (and optionally classes.txt). */
  readonly datasetBucket: s3.IBucket;
  /**
   * Board-rule test accuracy (percent) below which params are not published.
   * @default 50 (DEFAULT_MIN_ACCURACY_PERCENT, lib/conversion/config.ts)
   */
  readonly minAccuracyPercent?: number;
  /**
   * Start the automation when a run's model.npz lands.
   * @default true
   */
  readonly triggerOnModelUpload?: boolean;
  /**
   * Emit the ready-to-paste `aws ssm start-automation-execution` line as a stack output.
   * BnnPynqStack turns it off: its Discovery construct prints the same command next to the other ones.
   * @default true
   */
  readonly commandOutput?: boolean;
  /**
   * How long CloudWatch keeps the Lambda's logs.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Keep the log group when the stack is destroyed.
   * @default true
   */
  readonly retainLogs?: boolean;
}

/**
 * The conversion job: a Node.js Lambda bundled (esbuild) from lib/lambda/convert-handler.ts, an SSM
 * Automation document `convert` whose one step invokes it, and an EventBridge rule that starts the
 * automation when `runs/<runId>/model.npz` is created in the ArtifactBucket. Each piece has its own
 * least-privilege role.
 */
export class ConversionJob extends Construct {
  readonly function: nodejs.NodejsFunction;
  readonly document: ssm.CfnDocument;
  readonly automationRole: iam.Role;
  readonly rule?: events.Rule;
  /** The document's name (CloudFormation generates it). */
  readonly documentName: string;
  /** ARN EventBridge and IAM use to start the automation (default version). */
  readonly automationDefinitionArn: string;

  constructor(scope: Construct, id: string, props: ConversionJobProps) {
    super(scope, id);
    const minAccuracy = props.minAccuracyPercent ?? DEFAULT_MIN_ACCURACY_PERCENT;
    const floorProblem = accuracyFloorProblem(minAccuracy);
    if (floorProblem !== undefined) {
      throw new Error(`${this.node.path}: minAccuracyPercent ${floorProblem}, got ${minAccuracy}`);
    }

    // --- The Lambda -------------------------------------------------------------------------------
    const logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: props.retainLogs === false ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
    });
    const functionRole = new iam.Role(this, 'FunctionRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description:
        'bnn-pynq conversion Lambda: reads runs and datasets, writes run params and published params',
    });
    // Logs to its own group only (instead of the AWSLambdaBasicExecutionRole managed policy, which allows any group).
    logGroup.grantWrite(functionRole);
    this.grantBucketAccess(functionRole, props.artifactBucket, props.datasetBucket);

    this.function = new nodejs.NodejsFunction(this, 'Function', {
      entry: path.join(__dirname, '..', 'lambda', 'convert-handler.ts'),
      handler: 'handler',
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      // 1769 MB is one full vCPU: the bit-exact verify of 10k images takes about a second, the float-model
      // comparison in verify.json (float64 forward pass over the same images) is the slow part (tens of seconds).
      memorySize: 1769,
      timeout: Duration.minutes(4),
      role: functionRole,
      logGroup,
      description: 'bnn-pynq: model.npz -> verified param folder (published with manifest.json last)',
      environment: {
        [CONVERSION_ENV.artifactBucket]: props.artifactBucket.bucketName,
        [CONVERSION_ENV.datasetBucket]: props.datasetBucket.bucketName,
        [CONVERSION_ENV.minAccuracyPercent]: String(minAccuracy),
        NODE_OPTIONS: '--enable-source-maps',
      },
      bundling: {
        // Bundle our pinned SDK too (no reliance on the runtime's copy); local esbuild, never Docker.
        externalModules: [],
        minify: true,
        sourceMap: true,
        target: 'node24',
        forceDockerBundling: false,
      },
    });

    // --- The automation role and document ----------------------------------------------------------
    const stack = Stack.of(this);
    this.automationRole = new iam.Role(this, 'AutomationRole', {
      assumedBy: new iam.ServicePrincipal('ssm.amazonaws.com', {
        conditions: {
          // Confused-deputy guard: only automations of this account may assume it.
          StringEquals: { 'aws:SourceAccount': stack.account },
          ArnLike: {
            'aws:SourceArn': stack.formatArn({
              service: 'ssm',
              resource: 'automation-execution',
              resourceName: '*',
            }),
          },
        },
      }),
      description: 'bnn-pynq convert automation: invokes the conversion Lambda, nothing else',
    });
    this.automationRole.addToPolicy(
      new iam.PolicyStatement({ actions: ['lambda:InvokeFunction'], resources: [this.function.functionArn] }),
    );

    this.document = new ssm.CfnDocument(this, 'Document', {
      documentType: 'Automation',
      documentFormat: 'JSON',
      content: convertDocumentContent(this.function.functionName, this.automationRole.roleArn),
    });
    this.documentName = this.document.ref;
    this.automationDefinitionArn = stack.formatArn({
      service: 'ssm',
      resource: 'automation-definition',
      resourceName: `${this.documentName}:$DEFAULT`,
    });

    // --- Trigger: model.npz created -> start the automation -------------------------------------------
    if (props.triggerOnModelUpload ?? true) {
      const eventsRole = new iam.Role(this, 'TriggerRole', {
        assumedBy: new iam.ServicePrincipal('events.amazonaws.com', {
          conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
        }),
        description: 'bnn-pynq: lets EventBridge start the convert automation with its automation role',
      });
      eventsRole.addToPolicy(
        new iam.PolicyStatement({
          actions: ['ssm:StartAutomationExecution'],
          resources: [this.automationDefinitionArn],
        }),
      );
      eventsRole.addToPolicy(
        new iam.PolicyStatement({
          actions: ['iam:PassRole'],
          resources: [this.automationRole.roleArn],
          conditions: { StringEquals: { 'iam:PassedToService': 'ssm.amazonaws.com' } },
        }),
      );
      this.rule = new events.Rule(this, 'ModelCreated', {
        description: 'bnn-pynq: convert and publish a run when its model.npz lands',
        eventPattern: {
          source: ['aws.s3'],
          detailType: ['Object Created'],
          detail: {
            bucket: { name: [props.artifactBucket.bucketName] },
            object: { key: [{ wildcard: 'runs/*/model.npz' }] },
          },
        },
      });
      const automationArn = this.automationDefinitionArn;
      const automationRoleArn = this.automationRole.roleArn;
      this.rule.addTarget({
        bind: () => ({
          arn: automationArn,
          role: eventsRole,
          // The automation's parameters (lists of strings); the key is cut into a run id by the Lambda.
          input: events.RuleTargetInput.fromObject({
            runId: [events.EventField.fromPath('$.detail.object.key')],
            // auto: publish a single train run, never a sweep run (its best is chosen by `sweep best --publish`).
            publish: ['auto'],
            AutomationAssumeRole: [automationRoleArn],
          }),
        }),
      });
    }

    if (props.commandOutput ?? true)
      new CfnOutput(this, 'ConvertCommand', {
        description: 'Convert, verify and publish a run by hand (set RUN_ID first)',
        value: `aws ssm start-automation-execution --region ${stack.region} --document-name ${this.documentName} --parameters runId=$RUN_ID`,
      });
  }

  /**
   * S3 access of the conversion Lambda, by prefix. Listing is allowed (with an s3:prefix condition) so the
   * job can tell "missing" from "forbidden" before it reads optional objects (run.json, classes.txt).
   */
  private grantBucketAccess(role: iam.Role, artifacts: s3.IBucket, datasets: s3.IBucket): void {
    const reads = [
      artifacts.arnForObjects('runs/*/model.npz'),
      artifacts.arnForObjects('runs/*/run.json'),
      artifacts.arnForObjects('runs/*/verify.json'),
      artifacts.arnForObjects(`runs/*/params/*/${MANIFEST_FILE}`),
      artifacts.arnForObjects(`params/*/${MANIFEST_FILE}`),
    ];
    const writes = [
      artifacts.arnForObjects('runs/*/verify.json'),
      artifacts.arnForObjects('runs/*/params/*'),
      artifacts.arnForObjects('params/*'),
    ];
    const deletes = [artifacts.arnForObjects('runs/*/params/*'), artifacts.arnForObjects('params/*')];
    const datasetReads = [
      datasets.arnForObjects(`datasets/*/${IDX_FILES.testImages}`),
      datasets.arnForObjects(`datasets/*/${IDX_FILES.testLabels}`),
      datasets.arnForObjects('datasets/*/classes.txt'),
    ];
    role.addToPolicy(
      new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [...reads, ...datasetReads] }),
    );
    role.addToPolicy(new iam.PolicyStatement({ actions: ['s3:PutObject'], resources: writes }));
    role.addToPolicy(new iam.PolicyStatement({ actions: ['s3:DeleteObject'], resources: deletes }));
    role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['s3:ListBucket'],
        resources: [artifacts.bucketArn],
        conditions: { StringLike: { 's3:prefix': ['runs/*', 'params/*'] } },
      }),
    );
    role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['s3:ListBucket'],
        resources: [datasets.bucketArn],
        conditions: { StringLike: { 's3:prefix': ['datasets/*'] } },
      }),
    );
    const token = (bucket: s3.IBucket): string => {
      const cfn = bucket.node.defaultChild;
      return cfn ? `<${Stack.of(bucket).getLogicalId(cfn as s3.CfnBucket)}.Arn>` : bucket.bucketArn;
    };
    const patterns = [
      ...['runs/*/model.npz', 'runs/*/run.json', 'runs/*/verify.json', 'runs/*/params/*', 'params/*'].map(
        (p) => `${token(artifacts)}/${p}`,
      ),
      `${token(artifacts)}/runs/*/params/*/${MANIFEST_FILE}`,
      `${token(artifacts)}/params/*/${MANIFEST_FILE}`,
      ...[IDX_FILES.testImages, IDX_FILES.testLabels, 'classes.txt'].map(
        (f) => `${token(datasets)}/datasets/*/${f}`,
      ),
    ];
    for (const resource of patterns) {
      Validations.of(role).acknowledge({
        id: `AwsSolutions-IAM5[Resource::${resource}]`,
        reason:
          'Run ids, dataset names and param file names are chosen at run time; each wildcard stays inside one ' +
          'key shape of lib/layout.ts (runs/<runId>/..., params/<dataset>/<network>/..., datasets/<dataset>/...).',
      });
    }
  }
}

const anchored = (pattern: RegExp): string => pattern.source.replace(/^\^/, '').replace(/\$$/, '');

/** The `convert` Automation document (schemaVersion 0.3); parameters are CONVERT_AUTOMATION_PARAMETERS + AutomationAssumeRole. */
export function convertDocumentContent(
  functionName: string,
  automationRoleArn: string,
): Record<string, unknown> {
  const runId = anchored(RUN_ID_PATTERN);
  const parameters: Record<(typeof CONVERT_AUTOMATION_PARAMETERS)[number], Record<string, unknown>> = {
    runId: {
      type: 'String',
      description:
        'The run to convert: its id (e.g. 20261126-061500-fashion-mnist-a1b2) or its key runs/<runId>/model.npz.',
      allowedPattern: `^(${runId}|runs/${runId}/model\\.npz)$`,
    },
    dataset: {
      type: 'String',
      description:
        'Dataset whose test set verifies the params and whose name the param folder gets. Empty: the dataset in runs/<runId>/run.json, else fashion-mnist.',
      default: '',
      allowedPattern: `^$|^${anchored(DATASET_NAME_PATTERN)}$`,
    },
    network: {
      type: 'String',
      description: `Overlay network the params are for. Empty: the network in runs/<runId>/run.json, else ${DEFAULT_NETWORK}.`,
      default: '',
      allowedValues: ['', ...NETWORKS],
    },
    publish: {
      type: 'String',
      description:
        'true: publish to params/<dataset>/<network>/ when the verified accuracy reaches the floor (the execution fails otherwise). false: only write runs/<runId>/params and verify.json. auto (the model-upload trigger): true, except for a run of a sweep (run.json sweepId), which is only converted and verified.',
      default: 'true',
      allowedValues: ['true', 'false', 'auto'],
    },
  };
  return {
    schemaVersion: '0.3',
    description:
      '# bnn-pynq convert\nConverts runs/<runId>/model.npz into a BNN-PYNQ param folder, verifies it on the dataset test set with the hardware-exact simulator, writes runs/<runId>/params/ and verify.json, and publishes params/<dataset>/<network>/ (manifest.json last). Fails, publishing nothing, on an invalid npz or an accuracy below the floor (the Lambda answers with a refusal; the checkOutcome step fails the execution with it).',
    assumeRole: '{{ AutomationAssumeRole }}',
    parameters: {
      ...parameters,
      AutomationAssumeRole: {
        type: 'String',
        description: 'Role the automation runs as (allowed to invoke the conversion Lambda only).',
        default: automationRoleArn,
      },
    },
    mainSteps: [
      {
        name: CONVERT_STEP_NAME,
        action: 'aws:invokeLambdaFunction',
        description:
          'Convert, verify, publish. The Lambda answers with its summary or a refusal (outcome "refused"); the next step fails the execution on a refusal.',
        // A refusal is deterministic: retrying would only repeat it.
        maxAttempts: 1,
        timeoutSeconds: 300,
        onFailure: 'Abort',
        nextStep: CHECK_STEP_NAME,
        inputs: {
          FunctionName: functionName,
          InvocationType: 'RequestResponse',
          InputPayload: Object.fromEntries(CONVERT_AUTOMATION_PARAMETERS.map((p) => [p, `{{ ${p} }}`])),
        },
      },
      {
        name: CHECK_STEP_NAME,
        action: 'aws:executeScript',
        description:
          "Fails the execution, with the Lambda's words, when it refused or returned a function error: the execution's status is the conversion's outcome.",
        maxAttempts: 1,
        timeoutSeconds: 60,
        onFailure: 'Abort',
        isEnd: true,
        inputs: {
          Runtime: 'python3.11',
          Handler: 'check',
          Script: CHECK_OUTCOME_SCRIPT,
          InputPayload: { payload: `{{ ${CONVERT_STEP_NAME}.Payload }}` },
        },
      },
    ],
    outputs: [`${CONVERT_STEP_NAME}.Payload`],
  };
}
