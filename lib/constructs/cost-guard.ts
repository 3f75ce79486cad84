import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import { Construct } from 'constructs';

/** EC2 basic monitoring publishes CPUUtilization every 5 minutes. */
export const IDLE_PERIOD_MINUTES = 5;

export interface CostGuardProps {
  /** The instance to watch and stop (any EC2 instance: only its id is used). */
  readonly instance: ec2.IInstance;
  /** Stop after this many consecutive idle minutes (a positive multiple of 5). */
  readonly idleMinutes: number;
  /** Average CPU utilization (%) below which a period counts as idle. */
  readonly idleCpuPercent: number;
}

/**
 * Stops the training instance when it has been idle for the configured time, so a forgotten GPU instance
 * costs at most `idleMinutes` of compute. Training keeps at least one core busy (Theano drives the GPU
 * from Python), so a low CPU average means nothing is running. A stopped instance sends no data points:
 * missing data is "not breaching", so the alarm does not fire again while stopped.
 */
export class CostGuard extends Construct {
  readonly alarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: CostGuardProps) {
    super(scope, id);
    if (props.idleMinutes <= 0 || props.idleMinutes % IDLE_PERIOD_MINUTES !== 0) {
      throw new Error(
        `${this.node.path}: idleMinutes must be a positive multiple of ${IDLE_PERIOD_MINUTES}, got ${props.idleMinutes}`,
      );
    }
    const cpu = new cloudwatch.Metric({
      namespace: 'AWS/EC2',
      metricName: 'CPUUtilization',
      dimensionsMap: { InstanceId: props.instance.instanceId },
      statistic: cloudwatch.Stats.AVERAGE,
      period: Duration.minutes(IDLE_PERIOD_MINUTES),
    });
    const periods = props.idleMinutes / IDLE_PERIOD_MINUTES;
    this.alarm = new cloudwatch.Alarm(this, 'IdleAlarm', {
      alarmDescription:
        `Stops the bnn-pynq training instance after ${props.idleMinutes} minutes below ` +
        `${props.idleCpuPercent}% average CPU (cost guard; configure with -c idleMinutes=...).`,
      metric: cpu,
      threshold: props.idleCpuPercent,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: periods,
      datapointsToAlarm: periods,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.alarm.addAlarmAction(new cwActions.Ec2Action(cwActions.Ec2InstanceAction.STOP));
  }
}
