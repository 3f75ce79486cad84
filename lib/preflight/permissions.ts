/**
 * The permissions a first deploy and the CLI need that users most often lack, as
 * iam:SimulatePrincipalPolicy questions (one call per resource group, all in parallel).
 */
import type { ContextEntry, EvaluationResult } from '@aws-sdk/client-iam';

export interface PermissionGroup {
  /** `deploy`: blocks `cdk deploy`; `cli`: a bnn-pynq command would fail later. */
  use: 'deploy' | 'cli';
  actions: string[];
  resources: string[];
  context?: ContextEntry[];
  /** Why it is needed, for the fix text. */
  why: string;
}

interface PermissionTarget {
  partition: string;
  account: string;
  region: string;
  qualifier: string;
  stackName: string;
  spot: boolean;
  /** Service-linked roles that already exist need no iam:CreateServiceLinkedRole. */
  existingServiceLinkedRoles: ReadonlySet<string>;
}

/** Service-linked roles the stack makes AWS create on first use. */
export const SERVICE_LINKED_ROLES = {
  /** CloudWatch's EC2 alarm actions (the idle alarm stops the instance). */
  alarmActions: { name: 'AWSServiceRoleForCloudWatchEvents', service: 'events.amazonaws.com' },
  /** EC2 Spot (only with -c spot=true). */
  spot: { name: 'AWSServiceRoleForEC2Spot', service: 'spot.amazonaws.com' },
} as const;

const str = (key: string, value: string): ContextEntry => ({
  ContextKeyName: key,
  ContextKeyValues: [value],
  ContextKeyType: 'string',
});

export function permissionGroups(t: PermissionTarget): PermissionGroup[] {
  const iamArn = (resource: string) => `arn:${t.partition}:iam::${t.account}:${resource}`;
  const cdkRole = (kind: string) => iamArn(`role/cdk-${t.qualifier}-${kind}-role-${t.account}-${t.region}`);
  const groups: PermissionGroup[] = [
    {
      use: 'deploy',
      actions: ['sts:AssumeRole'],
      resources: [cdkRole('deploy'), cdkRole('file-publishing'), cdkRole('lookup')],
      why: '`cdk deploy` works through the bootstrap roles',
    },
  ];
  const slrs = [SERVICE_LINKED_ROLES.alarmActions, ...(t.spot ? [SERVICE_LINKED_ROLES.spot] : [])];
  for (const slr of slrs) {
    if (t.existingServiceLinkedRoles.has(slr.name)) continue;
    groups.push({
      use: 'deploy',
      actions: ['iam:CreateServiceLinkedRole'],
      resources: [iamArn(`role/aws-service-role/${slr.service}/${slr.name}`)],
      context: [str('iam:AWSServiceName', slr.service)],
      why: `the first deploy creates the service-linked role ${slr.name} (${slr === SERVICE_LINKED_ROLES.spot ? 'Spot' : 'the idle alarm stops the instance'})`,
    });
  }
  groups.push(
    {
      use: 'cli',
      actions: ['iam:PassRole'],
      // CloudFormation names the automation role <stack>-ConversionAutomationRole<hash>-<suffix>.
      resources: [iamArn(`role/${t.stackName}-ConversionAutomationRole`)],
      context: [str('iam:PassedToService', 'ssm.amazonaws.com')],
      why: '`bnn-pynq convert-run` starts the convert automation with its role',
    },
    {
      use: 'cli',
      actions: [
        'ssm:GetParametersByPath',
        'ssm:GetParameter',
        'ssm:DescribeInstanceInformation',
        'ssm:SendCommand',
        'ssm:GetCommandInvocation',
        'ssm:StartAutomationExecution',
        'ssm:GetAutomationExecution',
        'ec2:DescribeInstances',
        'ec2:StartInstances',
        'ec2:StopInstances',
        's3:ListBucket',
        's3:GetObject',
        's3:PutObject',
        'logs:GetLogEvents',
        'cloudformation:DescribeStacks',
        'servicequotas:RequestServiceQuotaIncrease',
      ],
      resources: ['*'],
      why: 'the bnn-pynq cloud commands (train, status, start/stop, logs, dataset upload, fetch)',
    },
  );
  return groups;
}

interface Denied {
  action: string;
  resource: string;
  /** `explicitDeny`, `implicitDeny`, or `denied by an organization policy (SCP)`. */
  reason: string;
}

/** The (action, resource) pairs a simulation did not allow. */
export function deniedPairs(results: readonly EvaluationResult[]): Denied[] {
  const denied: Denied[] = [];
  for (const r of results) {
    const action = r.EvalActionName ?? '?';
    const scp = r.OrganizationsDecisionDetail?.AllowedByOrganizations === false;
    const perResource = r.ResourceSpecificResults ?? [];
    if (perResource.length > 0) {
      for (const rr of perResource) {
        if (rr.EvalResourceDecision !== 'allowed')
          denied.push({
            action,
            resource: rr.EvalResourceName ?? '*',
            reason: reasonOf(rr.EvalResourceDecision, scp),
          });
      }
    } else if (r.EvalDecision !== 'allowed') {
      denied.push({ action, resource: r.EvalResourceName ?? '*', reason: reasonOf(r.EvalDecision, scp) });
    }
  }
  return denied;
}

const reasonOf = (decision: string | undefined, scp: boolean): string =>
  scp
    ? 'denied by an organization policy (SCP)'
    : decision === 'explicitDeny'
      ? 'explicitly denied'
      : 'not allowed';

/** "iam:PassRole, ssm:SendCommand": each denied action once, in first-seen order. */
export function deniedActions(denied: readonly Denied[]): string[] {
  return [...new Set(denied.map((d) => d.action))];
}
