import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { App, CfnElement, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { ConversionJob } from '../../lib/constructs/conversion-job';
import { Storage } from '../../lib/constructs/storage';
import { CONVERSION_ENV } from '../../lib/conversion/config';
import { CHECK_OUTCOME_SCRIPT } from '../../lib/conversion/outcome';
import { must } from '../../lib/defined';
import { CONVERT_AUTOMATION_PARAMETERS } from '../../lib/layout';
import { type LocalS3, startLocalS3 } from '../support/s3-server';

// The conversion job's CloudFormation: document, rule, function and the three roles. The app is built
// (and the Lambda bundled with the local esbuild) once for the whole file.

jest.setTimeout(300_000);

let app: App;
let stack: Stack;
let job: ConversionJob;
let storage: Storage;
let template: Template;
let outdir: string;

afterAll(() => rmSync(outdir, { recursive: true, force: true }));

beforeAll(() => {
  outdir = mkdtempSync(path.join(tmpdir(), 'cdk-conversion-'));
  app = new App({ outdir });
  stack = new Stack(app, 'ConversionTest', { env: { account: '123456789012', region: 'eu-west-1' } });
  storage = new Storage(stack, 'Storage', { retainData: true });
  job = new ConversionJob(stack, 'Conversion', {
    artifactBucket: storage.artifactBucket,
    datasetBucket: storage.datasetBucket,
    minAccuracyPercent: 70,
  });
  template = Template.fromStack(stack);
});

/** Synthesized CloudFormation, navigated freely (the assertions below pin its shape). */
// biome-ignore lint/suspicious/noExplicitAny: CloudFormation JSON
type Json = any;

const logicalId = (c: IConstruct): string =>
  stack.getLogicalId((c instanceof CfnElement ? c : c.node.defaultChild) as CfnElement);

function documentContent(): Record<string, Json> {
  const docs = template.findResources('AWS::SSM::Document');
  const [doc] = Object.values(docs);
  expect(Object.keys(docs)).toHaveLength(1);
  return must(doc, 'the SSM document').Properties.Content;
}

/** The statements of the inline policies attached to a role. */
function statementsOf(role: IConstruct): Json[] {
  const id = logicalId(role);
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((p: Json) => p.Properties.Roles.some((r: Json) => r.Ref === id))
    .flatMap((p: Json) => p.Properties.PolicyDocument.Statement);
}

describe('the convert automation document', () => {
  test('is schema 0.3 with the layout parameters plus AutomationAssumeRole, assuming its own role', () => {
    template.hasResourceProperties('AWS::SSM::Document', {
      DocumentType: 'Automation',
      DocumentFormat: 'JSON',
    });
    const content = documentContent();
    expect(content.schemaVersion).toBe('0.3');
    expect(content.assumeRole).toBe('{{ AutomationAssumeRole }}');
    expect(Object.keys(content.parameters).sort()).toEqual(
      [...CONVERT_AUTOMATION_PARAMETERS, 'AutomationAssumeRole'].sort(),
    );
    expect(content.parameters.AutomationAssumeRole.default).toEqual({
      'Fn::GetAtt': [logicalId(job.automationRole), 'Arn'],
    });
    expect(content.parameters.publish).toMatchObject({
      default: 'true',
      allowedValues: ['true', 'false', 'auto'],
    });
    expect(content.parameters.network).toMatchObject({
      default: '',
      allowedValues: ['', 'lfcW1A1', 'lfcW1A2', 'cnvW1A1', 'cnvW1A2', 'cnvW2A2'],
    });
    expect(content.parameters.dataset.default).toBe('');
  });

  test('runId accepts a run id or the model key the S3 event carries, nothing else', () => {
    const pattern = new RegExp(documentContent().parameters.runId.allowedPattern);
    expect(pattern.test('20261126-061500-fashion-mnist-a1b2')).toBe(true);
    expect(pattern.test('runs/20261126-061500-fashion-mnist-a1b2/model.npz')).toBe(true);
    expect(pattern.test('runs/20261126-061500-fashion-mnist-a1b2/checkpoint/model.npz')).toBe(false);
    expect(pattern.test('../params')).toBe(false);
    const dataset = new RegExp(documentContent().parameters.dataset.allowedPattern);
    expect(['', 'mnist', 'fashion-mnist'].every((d) => dataset.test(d))).toBe(true);
    expect(dataset.test('Fashion MNIST')).toBe(false);
  });

  test('invokes the conversion Lambda once, then fails the execution on a refusal or function-error payload', () => {
    const steps = documentContent().mainSteps;
    expect(steps).toEqual([
      {
        name: 'convert',
        action: 'aws:invokeLambdaFunction',
        description: expect.any(String),
        maxAttempts: 1,
        timeoutSeconds: 300,
        onFailure: 'Abort',
        nextStep: 'checkOutcome',
        inputs: {
          FunctionName: { Ref: logicalId(job.function) },
          InvocationType: 'RequestResponse',
          InputPayload: {
            runId: '{{ runId }}',
            dataset: '{{ dataset }}',
            network: '{{ network }}',
            publish: '{{ publish }}',
          },
        },
      },
      {
        name: 'checkOutcome',
        action: 'aws:executeScript',
        description: expect.any(String),
        maxAttempts: 1,
        timeoutSeconds: 60,
        onFailure: 'Abort',
        isEnd: true,
        inputs: {
          Runtime: 'python3.11',
          Handler: 'check',
          // The script itself is run on real payloads in test/conversion/outcome.test.ts.
          Script: CHECK_OUTCOME_SCRIPT,
          InputPayload: { payload: '{{ convert.Payload }}' },
        },
      },
    ]);
    expect(documentContent().outputs).toEqual(['convert.Payload']);
  });
});

describe('the trigger', () => {
  test('fires on Object Created for runs/*/model.npz in the ArtifactBucket only', () => {
    template.resourceCountIs('AWS::Events::Rule', 1);
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.s3'],
        'detail-type': ['Object Created'],
        detail: {
          bucket: { name: [{ Ref: logicalId(storage.artifactBucket) }] },
          object: { key: [{ wildcard: 'runs/*/model.npz' }] },
        },
      },
    });
    // The bucket really sends its events to EventBridge.
    template.hasResourceProperties('AWS::S3::Bucket', {
      NotificationConfiguration: { EventBridgeConfiguration: { EventBridgeEnabled: true } },
    });
  });

  test('starts the automation definition with the object key as runId, through its own role', () => {
    const [rule] = Object.values(template.findResources('AWS::Events::Rule')) as Json[];
    const [target] = rule.Properties.Targets;
    expect(target.Arn).toEqual({
      'Fn::Join': [
        '',
        [
          'arn:',
          { Ref: 'AWS::Partition' },
          ':ssm:eu-west-1:123456789012:automation-definition/',
          { Ref: logicalId(job.document) },
          ':$DEFAULT',
        ],
      ],
    });
    expect(target.RoleArn['Fn::GetAtt'][1]).toBe('Arn');
    expect(target.InputTransformer.InputPathsMap).toEqual({ 'detail-object-key': '$.detail.object.key' });
    const template_ = JSON.stringify(target.InputTransformer.InputTemplate);
    // publish auto: the Lambda publishes a single train run, never a run of a sweep.
    expect(template_).toContain(
      '{\\"runId\\":[<detail-object-key>],\\"publish\\":[\\"auto\\"],\\"AutomationAssumeRole\\":[\\"',
    );
  });
});

describe('the Lambda', () => {
  test('runs on the newest Node runtime with the buckets and the accuracy floor in its environment', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Runtime: 'nodejs24.x',
      Handler: 'index.handler',
      MemorySize: 1769,
      Timeout: 240,
      Environment: {
        Variables: {
          [CONVERSION_ENV.artifactBucket]: { Ref: logicalId(storage.artifactBucket) },
          [CONVERSION_ENV.datasetBucket]: { Ref: logicalId(storage.datasetBucket) },
          [CONVERSION_ENV.minAccuracyPercent]: '70',
        },
      },
    });
  });

  test('is bundled from lib/ by the local esbuild, SDK included, into one file', () => {
    const assets = readdirSync(outdir).filter((d) => d.startsWith('asset.'));
    const bundle = assets.map((d) => path.join(outdir, d, 'index.js')).find((f) => existsSync(f));
    expect(bundle).toBeDefined();
    const text = readFileSync(bundle as string, 'utf8');
    // Only the SDK's optional CRT signer (SigV4a, guarded by try/catch) stays a runtime require.
    const sdkRequires = new Set(text.match(/require\("@aws-sdk\/[^"]+"\)/g));
    expect([...sdkRequires]).toEqual(['require("@aws-sdk/signature-v4-crt")']);
    expect(text.includes('refused to publish')).toBe(true);
  });
});

describe('least privilege', () => {
  const artifactArn = () => ({ 'Fn::GetAtt': [logicalId(storage.artifactBucket), 'Arn'] });
  const datasetArn = () => ({ 'Fn::GetAtt': [logicalId(storage.datasetBucket), 'Arn'] });
  const objects = (bucket: object, suffix: string) => ({ 'Fn::Join': ['', [bucket, `/${suffix}`]] });

  test('the Lambda reads, writes and deletes only the prefixes of lib/layout.ts', () => {
    const statements = statementsOf(job.function.role as IConstruct);
    const byAction = (action: string) => statements.filter((s) => [s.Action].flat().includes(action));
    expect(statements.flatMap((s) => [s.Action].flat()).sort()).toEqual(
      [
        'logs:CreateLogStream',
        'logs:PutLogEvents',
        's3:DeleteObject',
        's3:GetObject',
        's3:ListBucket',
        's3:ListBucket',
        's3:PutObject',
      ].sort(),
    );
    expect(byAction('s3:PutObject')[0].Resource).toEqual([
      objects(artifactArn(), 'runs/*/verify.json'),
      objects(artifactArn(), 'runs/*/params/*'),
      objects(artifactArn(), 'params/*'),
    ]);
    expect(byAction('s3:DeleteObject')[0].Resource).toEqual([
      objects(artifactArn(), 'runs/*/params/*'),
      objects(artifactArn(), 'params/*'),
    ]);
    expect(byAction('s3:GetObject')[0].Resource).toEqual([
      objects(artifactArn(), 'runs/*/model.npz'),
      objects(artifactArn(), 'runs/*/run.json'),
      objects(artifactArn(), 'runs/*/verify.json'),
      objects(artifactArn(), 'runs/*/params/*/manifest.json'),
      objects(artifactArn(), 'params/*/manifest.json'),
      objects(datasetArn(), 'datasets/*/t10k-images-idx3-ubyte.gz'),
      objects(datasetArn(), 'datasets/*/t10k-labels-idx1-ubyte.gz'),
      objects(datasetArn(), 'datasets/*/classes.txt'),
    ]);
    expect(byAction('s3:ListBucket')).toEqual([
      expect.objectContaining({
        Resource: artifactArn(),
        Condition: { StringLike: { 's3:prefix': ['runs/*', 'params/*'] } },
      }),
      expect.objectContaining({
        Resource: datasetArn(),
        Condition: { StringLike: { 's3:prefix': ['datasets/*'] } },
      }),
    ]);
    expect(byAction('logs:PutLogEvents')[0].Resource).toEqual({
      'Fn::GetAtt': [expect.stringMatching(/^ConversionLogs/), 'Arn'],
    });
    for (const s of statements) expect(s.Resource).not.toBe('*');
  });

  test('the automation role may invoke this function only, and only SSM of this account assumes it', () => {
    expect(statementsOf(job.automationRole)).toEqual([
      {
        Action: 'lambda:InvokeFunction',
        Effect: 'Allow',
        Resource: { 'Fn::GetAtt': [logicalId(job.function), 'Arn'] },
      },
    ]);
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [
          Match.objectLike({
            Principal: { Service: 'ssm.amazonaws.com' },
            Condition: {
              StringEquals: { 'aws:SourceAccount': '123456789012' },
              ArnLike: {
                'aws:SourceArn': {
                  'Fn::Join': [
                    '',
                    ['arn:', { Ref: 'AWS::Partition' }, ':ssm:eu-west-1:123456789012:automation-execution/*'],
                  ],
                },
              },
            },
          }),
        ],
      },
    });
  });

  test('the EventBridge role may start this automation and pass its role to SSM, nothing more', () => {
    const [rule] = Object.values(template.findResources('AWS::Events::Rule')) as Json[];
    const triggerRoleId = rule.Properties.Targets[0].RoleArn['Fn::GetAtt'][0];
    const triggerRole = stack.node
      .findAll()
      .find((c) => stack.resolve((c as Json).logicalId) === triggerRoleId);
    expect(triggerRole).toBeDefined();
    const statements = Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((p: Json) => p.Properties.Roles.some((r: Json) => r.Ref === triggerRoleId))
      .flatMap((p: Json) => p.Properties.PolicyDocument.Statement);
    expect(statements).toEqual([
      { Action: 'ssm:StartAutomationExecution', Effect: 'Allow', Resource: rule.Properties.Targets[0].Arn },
      {
        Action: 'iam:PassRole',
        Effect: 'Allow',
        Resource: { 'Fn::GetAtt': [logicalId(job.automationRole), 'Arn'] },
        Condition: { StringEquals: { 'iam:PassedToService': 'ssm.amazonaws.com' } },
      },
    ]);
  });

  test('no role of the job carries a managed policy', () => {
    for (const role of [job.function.role, job.automationRole]) {
      const props = template.toJSON().Resources[logicalId(role as IConstruct)].Properties;
      expect(props.ManagedPolicyArns).toBeUndefined();
    }
  });

  test('cdk-nag AwsSolutions finds nothing unacknowledged', () => {
    const report = new AwsSolutionsChecks().validateScope(app);
    expect(
      report.violations.map(
        (v) => `${v.ruleName}: ${v.violatingResources.map((r) => r.resourceLogicalId).join(', ')}`,
      ),
    ).toEqual([]);
  });
});

test('the stack output is a ready-to-paste start-automation-execution line', () => {
  const outputs = template.findOutputs('*');
  const [output] = Object.values(outputs).filter((o: Json) =>
    JSON.stringify(o.Value).includes('start-automation-execution'),
  );
  expect(output).toBeDefined();
  expect(output?.Value).toEqual({
    'Fn::Join': [
      '',
      [
        'aws ssm start-automation-execution --region eu-west-1 --document-name ',
        { Ref: logicalId(job.document) },
        ' --parameters runId=$RUN_ID',
      ],
    ],
  });
});

describe('the bundled handler', () => {
  let s3: LocalS3;
  beforeAll(async () => {
    s3 = await startLocalS3(['artifacts', 'datasets']);
  });
  afterAll(() => s3.stop());

  test('runs under node with only its environment, and answers a missing model with a refusal', () => {
    const bundle = must(
      readdirSync(outdir)
        .map((d) => path.join(outdir, d, 'index.js'))
        .find((f) => existsSync(f)),
      'the bundled handler (index.js)',
    );
    // A refusal is the Lambda's answer (no function error); the document's checkOutcome step fails on it.
    const script = `require(${JSON.stringify(bundle)}).handler({ runId: 'no-such-run-0001', dataset: 'mnist' })
      .then((r) => { process.stdout.write(JSON.stringify(r)); process.exit(0); }, (e) => { console.error(e.message); process.exit(7); });`;
    const stdout = execFileSync(process.execPath, ['-e', script], {
      env: {
        PATH: process.env.PATH,
        ...s3.env,
        [CONVERSION_ENV.artifactBucket]: 'artifacts',
        [CONVERSION_ENV.datasetBucket]: 'datasets',
        [CONVERSION_ENV.minAccuracyPercent]: '50',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      encoding: 'utf8',
    });
    const answer = JSON.parse(stdout.slice(stdout.indexOf('{"outcome"')));
    expect(answer).toEqual({
      outcome: 'refused',
      runId: 'no-such-run-0001',
      refusal: expect.stringContaining(
        's3://artifacts/runs/no-such-run-0001/model.npz does not exist; has the training run finished?',
      ),
    });
  });
});

describe('in the deployed stack (BnnPynqStack)', () => {
  // Bundling skipped: this only checks the wiring, the bundle is checked above.
  let stackTemplate: Template;
  let real: import('../../lib/stacks/bnn-pynq-stack').BnnPynqStack;
  beforeAll(() => {
    const { buildApp } =
      require('../../lib/stacks/bnn-pynq-stack') as typeof import('../../lib/stacks/bnn-pynq-stack');
    real = buildApp(new App({ context: { 'aws:cdk:bundling-stacks': [] } }));
    stackTemplate = Template.fromStack(real);
  });

  test('publishes the document name as the convert-document discovery parameter', () => {
    stackTemplate.hasResourceProperties('AWS::SSM::Parameter', {
      Name: '/bnn-pynq/BnnPynq/convert-document',
      Value: { Ref: real.getLogicalId(real.conversion.document) },
    });
  });

  test('watches the stack ArtifactBucket and prints one ConvertCommand', () => {
    stackTemplate.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        detail: {
          bucket: {
            name: [{ Ref: real.getLogicalId(real.storage.artifactBucket.node.defaultChild as CfnElement) }],
          },
        },
      },
    });
    const outputs = Object.values(stackTemplate.toJSON().Outputs as Record<string, Json>);
    expect(
      outputs.filter((o) => JSON.stringify(o.Value).includes('start-automation-execution')),
    ).toHaveLength(1);
  });
});
