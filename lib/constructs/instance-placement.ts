import path from 'node:path';
import { CustomResource, Duration, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { PlacementProperties } from '../lambda/placement-handler';

export interface InstancePlacementProps {
  /** EC2 instance type the zone must offer. */
  readonly instanceType: string;
  /** Public SSM parameter of the AMI the instance launches from (its root snapshot bounds the volume). */
  readonly amiParameterName: string;
  /** Root volume size the instance will get; refused when smaller than the AMI's root snapshot. */
  readonly rootVolumeGiB: number;
  /**
   * Use this zone (it must offer the type).
   * @default - the zone is chosen at the first deploy and kept
   */
  readonly availabilityZone?: string;
  /**
   * How long CloudWatch keeps the lookup's logs.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * A deploy-time lookup (custom resource) that picks the Availability Zone for the training instance among
 * those offering its type (DescribeInstanceTypeOfferings) and checks the root volume against the AMI's
 * snapshot, so a deploy into a region whose first zone lacks the GPU type works with no flag, and a
 * doomed one fails in seconds with one line saying what would work. `synth` stays offline: the zone is a
 * token. The zone is the lookup's physical id and an update keeps it while it still offers the type, so
 * later deploys never move the subnet (or the instance). Rules: lib/placement/zone.ts.
 */
export class InstancePlacement extends Construct {
  /** The chosen Availability Zone (a deploy-time token). */
  readonly availabilityZone: string;
  readonly function: nodejs.NodejsFunction;

  constructor(scope: Construct, id: string, props: InstancePlacementProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description:
        'bnn-pynq placement lookup: reads instance-type offerings, zones and the AMI, nothing else',
    });
    logGroup.grantWrite(role);
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ReadOfferingsZonesImages',
        actions: ['ec2:DescribeInstanceTypeOfferings', 'ec2:DescribeAvailabilityZones', 'ec2:DescribeImages'],
        resources: ['*'],
      }),
    );
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ReadAmiParameter',
        actions: ['ssm:GetParameter'],
        // AWS's public parameters have no account in their ARN.
        resources: [`arn:${stack.partition}:ssm:${stack.region}::parameter${props.amiParameterName}`],
      }),
    );
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'DescribeInstanceTypeOfferings, DescribeAvailabilityZones and DescribeImages are read-only and have no resource-level permissions.',
    });

    this.function = new nodejs.NodejsFunction(this, 'Function', {
      entry: path.join(__dirname, '..', 'lambda', 'placement-handler.ts'),
      handler: 'handler',
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 256,
      timeout: Duration.minutes(1),
      role,
      logGroup,
      description: 'bnn-pynq: Availability Zone offering the instance type; root volume vs the AMI snapshot',
      bundling: {
        externalModules: [],
        minify: true,
        target: 'node24',
        forceDockerBundling: false,
      },
    });

    const properties: PlacementProperties = {
      InstanceType: props.instanceType,
      AmiParameter: props.amiParameterName,
      RootVolumeGiB: String(props.rootVolumeGiB),
      PinnedZone: props.availabilityZone ?? '',
    };
    const resource = new CustomResource(this, 'Resource', {
      serviceToken: this.function.functionArn,
      resourceType: 'Custom::BnnPynqPlacement',
      properties,
    });
    this.availabilityZone = Token.asString(resource.getAtt('Zone'));
  }
}
