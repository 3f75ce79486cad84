import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';

export interface NetworkProps {
  /**
   * The one Availability Zone of the VPC's subnet (may be a deploy-time token, e.g. the placement lookup's).
   * @default - two zones of the region
   */
  readonly availabilityZone?: string;
  /** Where VPC flow logs (rejected traffic) go; S3 keeps them cheap. */
  readonly flowLogBucket: s3.IBucket;
}

/**
 * A small VPC with public subnets only: no NAT gateway (≈ $33/month each) is needed, because the instance
 * has a public IP but its security group admits no inbound traffic at all; access is SSM Session Manager.
 * S3 traffic goes through a free gateway endpoint (no data-transfer charges for datasets and checkpoints).
 */
export class Network extends Construct {
  readonly vpc: ec2.Vpc;
  /** Security group of the training instance: no ingress rules, all egress (package mirrors, S3, SSM). */
  readonly instanceSecurityGroup: ec2.SecurityGroup;

  constructor(scope: Construct, id: string, props: NetworkProps) {
    super(scope, id);
    this.vpc = new ec2.Vpc(this, 'Vpc', {
      ipAddresses: ec2.IpAddresses.cidr('10.42.0.0/16'),
      ...(props.availabilityZone ? { availabilityZones: [props.availabilityZone] } : { maxAzs: 2 }),
      natGateways: 0,
      subnetConfiguration: [{ name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 }],
      restrictDefaultSecurityGroup: false,
      gatewayEndpoints: { S3: { service: ec2.GatewayVpcEndpointAwsService.S3 } },
    });
    this.vpc.addFlowLog('FlowLog', {
      destination: ec2.FlowLogDestination.toS3(props.flowLogBucket, 'vpc-flow-logs/'),
      trafficType: ec2.FlowLogTrafficType.REJECT,
    });
    this.instanceSecurityGroup = new ec2.SecurityGroup(this, 'InstanceSecurityGroup', {
      vpc: this.vpc,
      description: 'bnn-pynq training instance: no inbound rules (access via SSM Session Manager)',
      allowAllOutbound: true,
    });
  }
}
