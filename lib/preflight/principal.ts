import { captures } from '../defined';

/**
 * What `iam:SimulatePrincipalPolicy` can be asked about, from the ARN `sts:GetCallerIdentity` returns.
 * Simulation takes an IAM user, group or role ARN; a session of an assumed role is simulated as its role.
 */
export type CallerPrincipal =
  | { kind: 'user'; arn: string }
  | { kind: 'role'; arn: string; roleName: string; partition: string; account: string }
  | { kind: 'root'; arn: string }
  | { kind: 'unsupported'; arn: string; why: string };

export function callerPrincipal(callerArn: string): CallerPrincipal {
  const m = /^arn:([^:]+):(iam|sts)::(\d{12}):(.+)$/.exec(callerArn);
  if (!m) return { kind: 'unsupported', arn: callerArn, why: 'not an IAM or STS ARN' };
  const [partition, service, account, resource] = captures(m, 4, 'the IAM/STS ARN pattern');
  if (service === 'iam' && resource === 'root') return { kind: 'root', arn: callerArn };
  if (service === 'iam' && resource.startsWith('user/')) return { kind: 'user', arn: callerArn };
  if (service === 'sts' && resource.startsWith('assumed-role/')) {
    const roleName = resource.split('/')[1] ?? '';
    return {
      kind: 'role',
      // Without a path: roleArnWithPath (iam:GetRole) finds the real one; SSO roles get theirs guessed.
      arn: guessRoleArn(partition, account, roleName),
      roleName,
      partition,
      account,
    };
  }
  if (service === 'sts' && resource.startsWith('federated-user/')) {
    return {
      kind: 'unsupported',
      arn: callerArn,
      why: 'a federated-user session has no IAM policy to simulate',
    };
  }
  return {
    kind: 'unsupported',
    arn: callerArn,
    why: `${resource.split('/')[0]} principals cannot be simulated`,
  };
}

/**
 * The role ARN when iam:GetRole is not allowed: IAM Identity Center roles live under the path
 * `aws-reserved/sso.amazonaws.com/`; other roles are assumed to have none.
 */
function guessRoleArn(partition: string, account: string, roleName: string): string {
  const path = roleName.startsWith('AWSReservedSSO_') ? 'aws-reserved/sso.amazonaws.com/' : '';
  return `arn:${partition}:iam::${account}:role/${path}${roleName}`;
}
