/**
 * Which EC2 vCPU quota an instance type counts against. EC2 limits running instances by vCPUs per
 * instance-family group and purchase option; a new account starts with 0 for G/VT and P, so the first
 * GPU deploy fails with VcpuLimitExceeded unless the quota was raised first.
 */
export interface VcpuQuota {
  /** Service Quotas code, service `ec2`. */
  code: string;
  /** The quota's name as the Service Quotas console shows it. */
  name: string;
  /** How `preflight` names it in a line: "on-demand G and VT". */
  short: string;
  /** `instance-type` filter values (EC2 wildcards) of the instances that count against it. */
  typePatterns: readonly string[];
  /** Spot quotas count spot instances, on-demand quotas the others. */
  spot: boolean;
}

type Quota = Pick<VcpuQuota, 'code' | 'name' | 'short'>;

const GROUPS: ReadonlyArray<{ families: RegExp; patterns: readonly string[]; onDemand: Quota; spot: Quota }> =
  [
    {
      families: /^(g|gr|vt)\d/,
      patterns: ['g*', 'vt*'],
      onDemand: {
        code: 'L-DB2E81BA',
        name: 'Running On-Demand G and VT instances',
        short: 'on-demand G and VT',
      },
      spot: { code: 'L-3819A6DF', name: 'All G and VT Spot Instance Requests', short: 'spot G and VT' },
    },
    {
      families: /^p\d/,
      patterns: ['p*'],
      onDemand: { code: 'L-417A185B', name: 'Running On-Demand P instances', short: 'on-demand P' },
      spot: { code: 'L-7212CCBC', name: 'All P Spot Instance Requests', short: 'spot P' },
    },
    {
      // Standard: A, C, D, H, I, M, R, T, Z (every CPU type the config accepts).
      families: /^[acdhimrtz]\d/,
      patterns: ['a*', 'c*', 'd*', 'h*', 'i*', 'm*', 'r*', 't*', 'z*'],
      onDemand: {
        code: 'L-1216C47A',
        name: 'Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances',
        short: 'on-demand Standard',
      },
      spot: {
        code: 'L-34B43A08',
        name: 'All Standard (A, C, D, H, I, M, R, T, Z) Spot Instance Requests',
        short: 'spot Standard',
      },
    },
  ];

/** The vCPU quota of `instanceType` for on-demand or spot, or undefined for a family outside the table. */
export function vcpuQuotaFor(instanceType: string, spot: boolean): VcpuQuota | undefined {
  const group = GROUPS.find((g) => g.families.test(instanceType));
  if (!group) return undefined;
  return { ...(spot ? group.spot : group.onDemand), typePatterns: group.patterns, spot };
}

/** Statuses of a quota increase request that mean "still being decided". */
export const OPEN_REQUEST_STATUSES: readonly string[] = ['PENDING', 'CASE_OPENED'];
