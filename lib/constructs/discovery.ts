import { Aws, CfnOutput, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import {
  type AnyDiscoveryKey,
  DEFAULT_DATASET,
  type DiscoveryKey,
  discoveryParameter,
  discoveryPrefix,
  PARAMS_ROOT_PREFIX,
} from '../layout';

export interface DiscoveryProps {
  /** The stack's name: the parameters live under `/bnn-pynq/<stackName>/`. */
  readonly stackName: string;
}

/** `dataset-bucket` → `DatasetBucket` (stack output id). */
const outputId = (key: string): string =>
  key
    .split('-')
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join('');

/** A ready-to-paste command, emitted as an output once all the values it needs are registered. */
interface CommandSpec {
  readonly id: string;
  readonly description: string;
  readonly needs: readonly DiscoveryKey[];
  readonly render: (v: Record<DiscoveryKey, string>) => string;
}

/**
 * Everything the CLI and users need to find, under one prefix: an SSM parameter
 * `/bnn-pynq/<stackName>/<key>` and a stack output per value, plus outputs with ready-to-paste `aws`
 * commands. Values can be added by any construct at any point of the stack's construction
 * (`discovery.add('train-document', doc.name)`); a command output appears once all its values exist.
 */
export class Discovery extends Construct {
  readonly stackName: string;
  readonly prefix: string;
  private readonly parameters = new Map<AnyDiscoveryKey, ssm.StringParameter>();
  private readonly values = new Map<AnyDiscoveryKey, string>();
  private readonly emitted = new Set<string>();

  static readonly COMMANDS: readonly CommandSpec[] = [
    {
      id: 'TrainCommand',
      description: 'Start a training run (add epochs=...,runId=... to --parameters as needed)',
      needs: ['instance-id', 'train-document', 'log-group'],
      render: (v) =>
        `aws ssm send-command --region ${Aws.REGION} --instance-ids ${v['instance-id']} ` +
        `--document-name ${v['train-document']} --parameters dataset=${DEFAULT_DATASET} ` +
        `--cloud-watch-output-config CloudWatchOutputEnabled=true,CloudWatchLogGroupName=${v['log-group']} ` +
        '--query Command.CommandId --output text',
    },
    {
      id: 'ConvertCommand',
      description:
        'Convert a finished run into a param folder (set RUN_ID first; the dataset comes from the run)',
      needs: ['convert-document'],
      // $RUN_ID, not <RUN_ID>: a pasted `<...>` would be read by the shell as a redirection.
      render: (v) =>
        `aws ssm start-automation-execution --region ${Aws.REGION} --document-name ${v['convert-document']} ` +
        '--parameters "runId=$RUN_ID"',
    },
    {
      id: 'FetchParamsCommand',
      description: 'Download the published param folders',
      needs: ['artifact-bucket'],
      render: (v) =>
        `aws s3 sync s3://${v['artifact-bucket']}/${PARAMS_ROOT_PREFIX} ./${PARAMS_ROOT_PREFIX} --region ${Aws.REGION}`,
    },
    {
      id: 'StartInstanceCommand',
      description: 'Start the training instance again after the idle cost guard stopped it',
      needs: ['instance-id'],
      render: (v) => `aws ec2 start-instances --region ${Aws.REGION} --instance-ids ${v['instance-id']}`,
    },
    {
      id: 'SessionCommand',
      description: 'Open a shell on the instance (needs the Session Manager plugin)',
      needs: ['instance-id'],
      render: (v) => `aws ssm start-session --region ${Aws.REGION} --target ${v['instance-id']}`,
    },
  ];

  constructor(scope: Construct, id: string, props: DiscoveryProps) {
    super(scope, id);
    this.stackName = props.stackName;
    this.prefix = discoveryPrefix(props.stackName);
    new CfnOutput(this, 'DiscoveryPrefix', {
      key: 'DiscoveryPrefix',
      value: this.prefix,
      description: 'SSM parameter prefix holding this stack’s resource names (read by the bnn-pynq CLI)',
    });
  }

  /** Publishes `value` (a name, id or token) under `key`: SSM parameter + stack output. Once per key. */
  add(key: AnyDiscoveryKey, value: string, description?: string): ssm.StringParameter {
    if (this.parameters.has(key)) {
      throw new Error(`${this.node.path}: discovery value '${key}' is already registered`);
    }
    const name = discoveryParameter(this.stackName, key);
    const parameter = new ssm.StringParameter(this, `${outputId(key)}Parameter`, {
      parameterName: name,
      stringValue: value,
      description: description ?? `bnn-pynq ${this.stackName}: ${key}`,
      tier: ssm.ParameterTier.STANDARD,
    });
    this.parameters.set(key, parameter);
    this.values.set(key, value);
    new CfnOutput(this, outputId(key), {
      key: outputId(key),
      value,
      description: description ?? `${key} (also in SSM parameter ${name})`,
    });
    this.emitReadyCommands();
    return parameter;
  }

  /** The SSM parameter of a registered key (throws if not registered yet). */
  parameter(key: AnyDiscoveryKey): ssm.StringParameter {
    const parameter = this.parameters.get(key);
    if (!parameter) throw new Error(`${this.node.path}: discovery value '${key}' is not registered`);
    return parameter;
  }

  has(key: AnyDiscoveryKey): boolean {
    return this.parameters.has(key);
  }

  /** Lets `grantee` read every discovery parameter of this stack (GetParameter(s), GetParametersByPath). */
  grantRead(grantee: iam.IGrantable): iam.Grant {
    const stack = Stack.of(this);
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['ssm:GetParameter', 'ssm:GetParameters', 'ssm:GetParametersByPath'],
      resourceArns: [
        stack.formatArn({ service: 'ssm', resource: 'parameter', resourceName: this.prefix.slice(1, -1) }),
        stack.formatArn({ service: 'ssm', resource: 'parameter', resourceName: `${this.prefix.slice(1)}*` }),
      ],
    });
  }

  private emitReadyCommands(): void {
    for (const command of Discovery.COMMANDS) {
      if (this.emitted.has(command.id) || !command.needs.every((k) => this.values.has(k))) continue;
      const values = Object.fromEntries(this.values) as Record<DiscoveryKey, string>;
      new CfnOutput(this, command.id, {
        key: command.id,
        value: command.render(values),
        description: command.description,
      });
      this.emitted.add(command.id);
    }
  }
}
