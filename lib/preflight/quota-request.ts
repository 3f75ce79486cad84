/**
 * `preflight --request-quota`: files the EC2 vCPU quota increase the configured type needs, after saying
 * exactly what it asks for. Pure planning (planQuotaRequest) is kept apart from the one AWS call.
 */
import {
  type RequestedServiceQuotaChange,
  RequestServiceQuotaIncreaseCommand,
} from '@aws-sdk/client-service-quotas';
import { aws, awsErrorName, CloudError } from '../cloud/aws-errors';
import type { CloudClients } from '../cloud/clients';
import { describeRequest, type QuotaState } from './checks';
import { OPEN_REQUEST_STATUSES } from './quotas';

type QuotaPlan =
  | { action: 'none'; why: string }
  | { action: 'wait'; why: string }
  | { action: 'request'; desired: number; summary: string };

export function planQuotaRequest(state: QuotaState | undefined): QuotaPlan {
  if (!state)
    return {
      action: 'none',
      why: 'the quota could not be read (see the vCPU quota line): nothing to request',
    };
  const { quota, current, lastRequest, region } = state;
  // Room for one instance of the type next to what already runs in the group.
  const needed = state.needed + state.inUse;
  const what = `one ${state.instanceType} (${state.needed})${state.inUse > 0 ? ` + ${state.inUse} in use` : ''}`;
  if (current >= needed) {
    return {
      action: 'none',
      why: `${quota.code} is ${current} vCPUs in ${region}, enough for ${what}: nothing to request`,
    };
  }
  if (
    lastRequest &&
    OPEN_REQUEST_STATUSES.includes(lastRequest.Status ?? '') &&
    (lastRequest.DesiredValue ?? 0) >= needed
  ) {
    return {
      action: 'wait',
      why: `${describeRequest(lastRequest)}: not filing another; AWS answers it (usually within hours)`,
    };
  }
  return {
    action: 'request',
    desired: needed,
    summary: `request: EC2 quota ${quota.code} "${quota.name}" in ${region}: current ${current} vCPUs -> desired ${needed} vCPUs (${what})`,
  };
}

export async function fileQuotaRequest(
  clients: CloudClients,
  state: QuotaState,
  desired: number,
): Promise<RequestedServiceQuotaChange> {
  try {
    const out = await clients.quotas.send(
      new RequestServiceQuotaIncreaseCommand({
        ServiceCode: 'ec2',
        QuotaCode: state.quota.code,
        DesiredValue: desired,
      }),
    );
    if (!out.RequestedQuota)
      throw new CloudError('failed', 'servicequotas:RequestServiceQuotaIncrease returned no request');
    return out.RequestedQuota;
  } catch (err) {
    const name = awsErrorName(err);
    if (name === 'ResourceAlreadyExistsException') {
      throw new CloudError(
        'failed',
        `a request to increase ${state.quota.code} in ${state.region} is already open: run \`bnn-pynq preflight\` to see its status`,
        err,
      );
    }
    if (name === 'QuotaExceededException') {
      throw new CloudError(
        'failed',
        `AWS refuses more open quota requests for this account right now (QuotaExceededException): wait for the open ones to be decided`,
        err,
      );
    }
    if (name === 'DependencyAccessDeniedException' || name === 'AccessDeniedException') {
      throw new CloudError(
        'access-denied',
        `your identity may not request quota increases (${name}): ask your administrator to allow servicequotas:RequestServiceQuotaIncrease, or request ${state.quota.code} = ${desired} in the Service Quotas console`,
        err,
      );
    }
    return aws('servicequotas:RequestServiceQuotaIncrease', () => Promise.reject(err));
  }
}
