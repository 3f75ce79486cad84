/**
 * `bnn-pynq preflight`: everything that would make a first `cdk deploy` fail, found in one round of
 * parallel read-only calls (SDK v3). Each check ends as one result line; the command prints them.
 *
 * Order of the calls: the region is resolved locally first; then every call starts at once; only the
 * permission simulation waits, for the caller's ARN (STS) and its role path (IAM GetRole). So the wall
 * time is about three round trips, whatever the number of checks.
 */
import { DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import {
  type _InstanceType,
  DescribeAvailabilityZonesCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeInstanceTypeOfferingsCommand,
  DescribeInstanceTypesCommand,
  type InstanceTypeOffering,
} from '@aws-sdk/client-ec2';
import { GetRoleCommand, SimulatePrincipalPolicyCommand } from '@aws-sdk/client-iam';
import {
  GetAWSDefaultServiceQuotaCommand,
  GetServiceQuotaCommand,
  ListRequestedServiceQuotaChangeHistoryByQuotaCommand,
  type RequestedServiceQuotaChange,
} from '@aws-sdk/client-service-quotas';
import { GetParameterCommand } from '@aws-sdk/client-ssm';
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { awsErrorName, type CloudError, mapAwsError } from '../cloud/aws-errors';
import type { CloudClients } from '../cloud/clients';
import { AMI_PARAMETERS, type BnnPynqConfig, configDevice } from '../config';
import { ALTERNATIVE_INSTANCE_TYPES, chooseZone, rootVolumeRefusal, zonesOffering } from '../placement/zone';
import {
  deniedActions,
  deniedPairs,
  type PermissionGroup,
  permissionGroups,
  SERVICE_LINKED_ROLES,
} from './permissions';
import { type CallerPrincipal, callerPrincipal } from './principal';
import { MIN_BOOTSTRAP_VERSION } from './project-config';
import { OPEN_REQUEST_STATUSES, type VcpuQuota, vcpuQuotaFor } from './quotas';
import { nearbyRegions } from './regions';

type CheckStatus = 'ok' | 'fail' | 'warn' | 'unknown' | 'skipped';

export interface CheckResult {
  id:
    | 'credentials'
    | 'region'
    | 'stack'
    | 'bootstrap'
    | 'instance-type'
    | 'quota'
    | 'ami'
    | 'deploy-permissions'
    | 'cli-permissions';
  label: string;
  /** ok: fine; fail: blocks a deploy; warn: a later command would fail; unknown: could not check; skipped: a prerequisite failed. */
  status: CheckStatus;
  /** What was found, and after a colon what to do. One line. */
  text: string;
}

/** What `--request-quota` needs from the quota check. */
export interface QuotaState {
  quota: VcpuQuota;
  region: string;
  instanceType: string;
  current: number;
  /** vCPUs of the type. */
  needed: number;
  /** vCPUs of running or pending instances of the same group and purchase option (not the stack's own). */
  inUse: number;
  /** The newest increase request for this quota, if any. */
  lastRequest?: RequestedServiceQuotaChange;
}

export interface PreflightReport {
  region?: string;
  account?: string;
  checks: CheckResult[];
  quota?: QuotaState;
  /** Checks whose status is `fail`. */
  blockers: number;
  elapsedMs: number;
}

interface PreflightInput {
  config: BnnPynqConfig;
  qualifier: string;
  /** The bootstrap version the installed aws-cdk CLI would deploy (to suggest an upgrade); optional. */
  latestBootstrapVersion?: number;
  now?: () => number;
}

/** Runs one SDK call; an error comes back as a CloudError (one line with the fix) plus the SDK's error name. */
async function attempt<T>(
  action: string,
  call: () => Promise<T>,
): Promise<{ ok: T } | { err: CloudError; name: string }> {
  try {
    return { ok: await call() };
  } catch (e) {
    return { err: mapAwsError(e, action) as CloudError, name: awsErrorName(e) };
  }
}
type Attempt<T> = Awaited<ReturnType<typeof attempt<T>>>;

const isDenied = (a: Attempt<unknown>): boolean =>
  'err' in a && (a.err as CloudError).kind === 'access-denied';

export async function runPreflight(clients: CloudClients, input: PreflightInput): Promise<PreflightReport> {
  const now = input.now ?? Date.now;
  const started = now();
  const { config } = input;
  const checks: CheckResult[] = [];
  const done = (extra: Partial<PreflightReport> = {}): PreflightReport => ({
    checks,
    blockers: checks.filter((c) => c.status === 'fail').length,
    elapsedMs: now() - started,
    ...extra,
  });

  // --- Region (local: the SDK's chain of --region, AWS_REGION, the profile) -----------------------
  let region: string | undefined;
  try {
    region = await clients.ec2.config.region();
  } catch {
    region = undefined;
  }
  const LABELS: Record<CheckResult['id'], string> = {
    credentials: 'credentials',
    region: 'region',
    stack: 'stack',
    bootstrap: 'cdk bootstrap',
    'instance-type': 'instance type',
    quota: 'vCPU quota',
    ami: 'AMI',
    'deploy-permissions': 'deploy permissions',
    'cli-permissions': 'CLI permissions',
  };
  const add = (id: CheckResult['id'], status: CheckStatus, text: string) =>
    checks.push({ id, label: LABELS[id], status, text });
  const REST: CheckResult['id'][] = [
    'stack',
    'bootstrap',
    'instance-type',
    'quota',
    'ami',
    'deploy-permissions',
    'cli-permissions',
  ];

  if (!region) {
    add('credentials', 'skipped', 'not checked: needs a region');
    add(
      'region',
      'fail',
      'no AWS region set: pass --region <region>, set AWS_REGION, or set a region in your profile (`aws configure`)',
    );
    for (const id of REST) add(id, 'skipped', 'not checked: needs a region');
    return done();
  }

  const device = configDevice(config);
  const type = config.instanceType;
  const quota = vcpuQuotaFor(type, config.spot);
  const amiParameter = AMI_PARAMETERS[device];
  const bootstrapParameter = `/cdk-bootstrap/${input.qualifier}/version`;

  // --- Every independent call at once ------------------------------------------------------------
  const identityP = attempt('sts:GetCallerIdentity', () =>
    clients.sts.send(new GetCallerIdentityCommand({})),
  );
  const stackP = attempt('cloudformation:DescribeStacks', () =>
    clients.cfn.send(new DescribeStacksCommand({ StackName: config.stackName })),
  );
  const bootstrapP = attempt('ssm:GetParameter', () =>
    clients.ssm.send(new GetParameterCommand({ Name: bootstrapParameter })),
  );
  const amiP = attempt('ssm:GetParameter', () =>
    clients.ssm.send(new GetParameterCommand({ Name: amiParameter })),
  );
  // The AMI's root snapshot: the deploy's placement lookup refuses a smaller root volume (lib/placement/zone.ts).
  const imageP = amiP.then((a) => {
    const imageId = 'ok' in a ? a.ok.Parameter?.Value : undefined;
    return imageId
      ? attempt('ec2:DescribeImages', () =>
          clients.ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] })),
        )
      : undefined;
  });
  // The same question, and the same rules, as the deploy's placement lookup.
  const offeringsP = attempt('ec2:DescribeInstanceTypeOfferings', () =>
    allOfferings(clients, [...new Set([type, ...ALTERNATIVE_INSTANCE_TYPES])]),
  );
  const zonesP = attempt('ec2:DescribeAvailabilityZones', () =>
    clients.ec2.send(
      new DescribeAvailabilityZonesCommand({ Filters: [{ Name: 'state', Values: ['available'] }] }),
    ),
  );
  const typeInfoP = attempt('ec2:DescribeInstanceTypes', () =>
    clients.ec2.send(new DescribeInstanceTypesCommand({ InstanceTypes: [type as _InstanceType] })),
  );
  const quotaP = quota
    ? attempt('servicequotas:GetServiceQuota', () => serviceQuotaValue(clients, quota.code))
    : undefined;
  const usageP = quota
    ? attempt('ec2:DescribeInstances', () => vcpusInUse(clients, quota, config.stackName))
    : undefined;
  const historyP = quota
    ? attempt('servicequotas:ListRequestedServiceQuotaChangeHistoryByQuota', () =>
        clients.quotas.send(
          new ListRequestedServiceQuotaChangeHistoryByQuotaCommand({
            ServiceCode: 'ec2',
            QuotaCode: quota.code,
          }),
        ),
      )
    : undefined;
  const slrNames = [
    SERVICE_LINKED_ROLES.alarmActions.name,
    ...(config.spot ? [SERVICE_LINKED_ROLES.spot.name] : []),
  ];
  const slrP = Promise.all(
    slrNames.map(async (name) => ({
      name,
      role: await attempt('iam:GetRole', () => clients.iam.send(new GetRoleCommand({ RoleName: name }))),
    })),
  );
  // The permission simulation needs the caller's ARN first.
  const principalP = identityP.then(async (id) => {
    if ('err' in id || !id.ok.Arn) return undefined;
    return resolvePrincipal(clients, callerPrincipal(id.ok.Arn));
  });

  // --- Credentials ---------------------------------------------------------------------------------
  const identity = await identityP;
  if ('err' in identity) {
    add('credentials', 'fail', identity.err.message);
    add('region', 'ok', region);
    for (const id of REST) add(id, 'skipped', 'not checked: needs working credentials');
    return done({ region });
  }
  const account = identity.ok.Account ?? '?';
  const callerArn = identity.ok.Arn ?? '?';
  add('credentials', 'ok', `account ${account} as ${callerArn}`);
  add('region', 'ok', region);

  /** A check that failed only because its own call was refused or broke: say so, never guess. */
  const couldNot = (id: CheckResult['id'], a: { err: CloudError }, what: string) =>
    add(id, 'unknown', `could not check ${what}: ${a.err.message}`);

  // --- Stack -----------------------------------------------------------------------------------------
  const stack = await stackP;
  if ('err' in stack) {
    if (stack.name === 'ValidationError' && /does not exist/i.test(stack.err.message)) {
      add('stack', 'ok', `${config.stackName} not deployed yet in ${region} (a first deploy)`);
    } else couldNot('stack', stack, `stack ${config.stackName}`);
  } else {
    const status = stack.ok.Stacks?.[0]?.StackStatus ?? 'UNKNOWN';
    if (status === 'ROLLBACK_COMPLETE' || status === 'ROLLBACK_FAILED' || status === 'DELETE_FAILED') {
      add(
        'stack',
        'fail',
        `${config.stackName} is ${status} in ${region} (a failed first deploy): delete it with \`npx cdk destroy\` (buckets with data are kept), then deploy again`,
      );
    } else if (status.endsWith('_IN_PROGRESS')) {
      add(
        'stack',
        'warn',
        `${config.stackName} is ${status} in ${region}: wait for it to finish before deploying`,
      );
    } else {
      add('stack', 'ok', `${config.stackName} exists in ${region} (${status}): a deploy updates it`);
    }
  }

  // --- CDK bootstrap ------------------------------------------------------------------------------
  const bootstrapFix = `run \`npx cdk bootstrap aws://${account}/${region}\``;
  const bootstrap = await bootstrapP;
  if ('err' in bootstrap) {
    if (bootstrap.name === 'ParameterNotFound') {
      add(
        'bootstrap',
        'fail',
        `not bootstrapped in ${region} (no ${bootstrapParameter}): ${bootstrapFix} (once per account and region, ~2 min)`,
      );
    } else couldNot('bootstrap', bootstrap, bootstrapParameter);
  } else {
    const version = Number(bootstrap.ok.Parameter?.Value);
    if (!Number.isFinite(version) || version < MIN_BOOTSTRAP_VERSION) {
      add(
        'bootstrap',
        'fail',
        `version ${bootstrap.ok.Parameter?.Value ?? '?'} in ${region} is older than the ${MIN_BOOTSTRAP_VERSION} this CDK needs: ${bootstrapFix} (upgrades it in place)`,
      );
    } else {
      const newer = input.latestBootstrapVersion && version < input.latestBootstrapVersion;
      add(
        'bootstrap',
        'ok',
        `version ${version} in ${region} (qualifier ${input.qualifier})${newer ? `; ${input.latestBootstrapVersion} is current, \`npx cdk bootstrap\` upgrades it (optional)` : ''}`,
      );
    }
  }

  // --- Instance type offered, and where ------------------------------------------------------------
  const offerings = await offeringsP;
  if ('err' in offerings) {
    couldNot('instance-type', offerings, `where ${type} is offered`);
  } else {
    const zoneAnswer = await zonesP;
    const offered = offerings.ok.flatMap((o) =>
      o.InstanceType && o.Location ? [{ instanceType: o.InstanceType, zone: o.Location }] : [],
    );
    const placement = {
      instanceType: type,
      region,
      offerings: offered,
      // Without DescribeAvailabilityZones, every zone an offering names counts as available.
      availableZones:
        'ok' in zoneAnswer
          ? (zoneAnswer.ok?.AvailabilityZones ?? [])
              .filter((z) => (z.ZoneType ?? 'availability-zone') === 'availability-zone')
              .flatMap((z) => (z.ZoneName ? [z.ZoneName] : []))
          : offered.map((o) => o.zone),
      pinnedZone: config.availabilityZone,
    };
    const zones = zonesOffering(placement, type);
    const choice = chooseZone(placement);
    if ('zone' in choice) {
      add(
        'instance-type',
        'ok',
        `${type} offered in ${zones.join(', ')}; the deploy places it in ${choice.zone}${config.availabilityZone ? ' (-c availabilityZone)' : ''}`,
      );
    } else {
      const elsewhere = zones.length === 0 ? await regionsOffering(clients, type, nearbyRegions(region)) : [];
      add(
        'instance-type',
        'fail',
        `${choice.error}${elsewhere.length > 0 ? ` Regions that offer ${type}: ${elsewhere.join(', ')} (--region / AWS_REGION).` : ''}`,
      );
    }
  }

  // --- vCPU quota against the type's vCPUs -----------------------------------------------------------
  let quotaState: QuotaState | undefined;
  const typeInfo = await typeInfoP;
  const vcpus = 'ok' in typeInfo ? typeInfo.ok.InstanceTypes?.[0]?.VCpuInfo?.DefaultVCpus : undefined;
  if (!quota || !quotaP || !historyP || !usageP) {
    add('quota', 'unknown', `could not check: no known EC2 vCPU quota for ${type}`);
  } else {
    const value = await quotaP;
    const history = await historyP;
    const usage = await usageP;
    const purchase = config.spot ? 'spot' : 'on-demand';
    if ('err' in value) {
      couldNot('quota', value, `the ${quota.short} vCPU quota (${quota.code})`);
    } else if (vcpus === undefined) {
      add(
        'quota',
        'unknown',
        `${value.ok} vCPUs for ${quota.short} instances (${quota.code}); could not read ${type}'s vCPU count${'err' in typeInfo ? `: ${typeInfo.err.message}` : ''}`,
      );
    } else {
      const requests = 'ok' in history ? (history.ok.RequestedQuotas ?? []) : [];
      const lastRequest = [...requests].sort(
        (a, b) => (b.Created?.getTime() ?? 0) - (a.Created?.getTime() ?? 0),
      )[0];
      const inUse = 'ok' in usage ? usage.ok.vcpus : 0;
      quotaState = {
        quota,
        region,
        instanceType: type,
        current: value.ok,
        needed: vcpus,
        inUse,
        lastRequest,
      };
      const have = `${value.ok} vCPUs for ${quota.short} instances (${quota.code}, ${region})`;
      const used =
        'err' in usage
          ? ` (other running instances not counted: ${usage.err.message})`
          : usage.ok.instances === 0
            ? ', none in use'
            : `, ${usage.ok.vcpus} in use by ${usage.ok.instances} running instance${usage.ok.instances === 1 ? '' : 's'}`;
      const needs = `${have}; ${type} (${purchase}) needs ${vcpus}${used}`;
      const requestText = lastRequest ? describeRequest(lastRequest) : undefined;
      if (value.ok >= vcpus + inUse) {
        add('quota', 'ok', needs);
      } else if (lastRequest && OPEN_REQUEST_STATUSES.includes(lastRequest.Status ?? '')) {
        add(
          'quota',
          'fail',
          `${needs}; ${requestText}: wait for AWS's answer (usually hours), then run preflight again`,
        );
      } else {
        add(
          'quota',
          'fail',
          `${needs}${requestText ? `; ${requestText}` : ''}: run \`bnn-pynq preflight --request-quota\` (AWS usually answers within hours)`,
        );
      }
    }
  }

  // --- AMI parameter -------------------------------------------------------------------------------
  const ami = await amiP;
  if ('err' in ami) {
    if (ami.name === 'ParameterNotFound' || ami.name === 'ParameterVersionNotFound') {
      add(
        'ami',
        'fail',
        `${amiParameter} does not exist in ${region}: the ${device === 'gpu' ? 'Deep Learning (OSS Nvidia driver) AMI' : 'Ubuntu 22.04 AMI'} is not published there; deploy to another region (e.g. us-east-1, eu-west-1)`,
      );
    } else couldNot('ami', ami, amiParameter);
  } else {
    const imageId = ami.ok.Parameter?.Value ?? '?';
    const image = await imageP;
    const found = image && 'ok' in image ? image.ok.Images?.[0] : undefined;
    const root = found?.BlockDeviceMappings?.find((m) => m.DeviceName === found.RootDeviceName)?.Ebs
      ?.VolumeSize;
    const refusal = root === undefined ? undefined : rootVolumeRefusal(config.rootVolumeGiB, root, imageId);
    if (refusal) add('ami', 'fail', refusal);
    else {
      const volume =
        root !== undefined
          ? `; root snapshot ${root} GiB, rootVolumeGiB ${config.rootVolumeGiB}`
          : `; root snapshot not checked${image && 'err' in image ? `: ${image.err.message}` : ''}`;
      add('ami', 'ok', `${imageId} (${device}: ${amiParameter})${volume}`);
    }
  }

  // --- Permissions -----------------------------------------------------------------------------------
  const principal = await principalP;
  const slr = await slrP;
  const existing = new Set(slr.filter(({ role }) => 'ok' in role).map(({ name }) => name));
  const [deployResult, cliResult] = await checkPermissions(clients, principal, {
    partition: /^arn:([^:]+):/.exec(callerArn)?.[1] ?? 'aws',
    account,
    region,
    qualifier: input.qualifier,
    stackName: config.stackName,
    spot: config.spot,
    existingServiceLinkedRoles: existing,
  });
  add('deploy-permissions', deployResult.status, deployResult.text);
  add('cli-permissions', cliResult.status, cliResult.text);

  return done({ region, account, quota: quotaState });
}

/** "request for 4 vCPUs filed 2026-12-01 is CASE_OPENED (case 1234)". */
export function describeRequest(r: RequestedServiceQuotaChange): string {
  const date = r.Created ? r.Created.toISOString().slice(0, 10) : '?';
  return `request ${r.Id ?? '?'} for ${r.DesiredValue ?? '?'} vCPUs filed ${date} is ${r.Status ?? '?'}${r.CaseId ? ` (support case ${r.CaseId})` : ''}`;
}

/** The applied quota value; an account that never had it changed answers NoSuchResource, then the default applies. */
export async function serviceQuotaValue(clients: CloudClients, code: string): Promise<number> {
  try {
    const out = await clients.quotas.send(
      new GetServiceQuotaCommand({ ServiceCode: 'ec2', QuotaCode: code }),
    );
    return out.Quota?.Value ?? 0;
  } catch (err) {
    if (awsErrorName(err) !== 'NoSuchResourceException') throw err;
    const out = await clients.quotas.send(
      new GetAWSDefaultServiceQuotaCommand({ ServiceCode: 'ec2', QuotaCode: code }),
    );
    return out.Quota?.Value ?? 0;
  }
}

/**
 * vCPUs of the running and pending instances that count against `quota` (its families, spot or not),
 * except the stack's own instance: an update of the stack does not start a second one.
 */
async function vcpusInUse(
  clients: CloudClients,
  quota: VcpuQuota,
  stackName: string,
): Promise<{ vcpus: number; instances: number }> {
  let vcpus = 0;
  let instances = 0;
  let NextToken: string | undefined;
  do {
    const page = await clients.ec2.send(
      new DescribeInstancesCommand({
        Filters: [
          { Name: 'instance-state-name', Values: ['pending', 'running'] },
          { Name: 'instance-type', Values: [...quota.typePatterns] },
        ],
        NextToken,
      }),
    );
    for (const instance of (page.Reservations ?? []).flatMap((r) => r.Instances ?? [])) {
      if ((instance.InstanceLifecycle === 'spot') !== quota.spot) continue;
      const stackTag = instance.Tags?.find((t) => t.Key === 'aws:cloudformation:stack-name')?.Value;
      if (stackTag === stackName) continue;
      vcpus += (instance.CpuOptions?.CoreCount ?? 0) * (instance.CpuOptions?.ThreadsPerCore ?? 1);
      instances++;
    }
    NextToken = page.NextToken;
  } while (NextToken);
  return { vcpus, instances };
}

async function allOfferings(clients: CloudClients, types: string[]): Promise<InstanceTypeOffering[]> {
  const all: InstanceTypeOffering[] = [];
  let NextToken: string | undefined;
  do {
    const page = await clients.ec2.send(
      new DescribeInstanceTypeOfferingsCommand({
        LocationType: 'availability-zone',
        Filters: [{ Name: 'instance-type', Values: types }],
        NextToken,
      }),
    );
    all.push(...(page.InstanceTypeOfferings ?? []));
    NextToken = page.NextToken;
  } while (NextToken);
  return all;
}

/** Which of `regions` offer `type` (asked only when the deploy region offers it nowhere; failures count as "no"). */
async function regionsOffering(clients: CloudClients, type: string, regions: string[]): Promise<string[]> {
  const answers = await Promise.all(
    regions.map(async (r) => {
      try {
        const out = await clients.ec2In(r).send(
          new DescribeInstanceTypeOfferingsCommand({
            LocationType: 'region',
            Filters: [{ Name: 'instance-type', Values: [type] }],
          }),
        );
        return (out.InstanceTypeOfferings ?? []).length > 0 ? r : undefined;
      } catch {
        return undefined;
      }
    }),
  );
  return answers.filter((r): r is string => r !== undefined);
}

/** The ARN to simulate: an assumed role's role ARN with its real path (iam:GetRole), else the guess. */
async function resolvePrincipal(clients: CloudClients, p: CallerPrincipal): Promise<CallerPrincipal> {
  if (p.kind !== 'role') return p;
  try {
    const out = await clients.iam.send(new GetRoleCommand({ RoleName: p.roleName }));
    return out.Role?.Arn ? { ...p, arn: out.Role.Arn } : p;
  } catch {
    return p;
  }
}

interface PermissionVerdict {
  status: CheckStatus;
  text: string;
}

async function checkPermissions(
  clients: CloudClients,
  principal: CallerPrincipal | undefined,
  target: Parameters<typeof permissionGroups>[0],
): Promise<[PermissionVerdict, PermissionVerdict]> {
  const groups = permissionGroups(target);
  const names = (use: PermissionGroup['use']) => [
    ...new Set(groups.filter((g) => g.use === use).flatMap((g) => g.actions)),
  ];
  const both = (v: PermissionVerdict): [PermissionVerdict, PermissionVerdict] => [v, v];
  if (!principal) return both({ status: 'unknown', text: 'could not check: no caller ARN' });
  if (principal.kind === 'root') {
    return both({
      status: 'ok',
      text: 'you are the account root user, which may do everything (AWS advises deploying as an IAM user or role)',
    });
  }
  if (principal.kind === 'unsupported') {
    const text = (use: PermissionGroup['use']) =>
      `could not check (${principal.why}): make sure you may ${names(use).join(', ')}`;
    return [
      { status: 'unknown', text: text('deploy') },
      { status: 'unknown', text: text('cli') },
    ];
  }
  const answers = await Promise.all(
    groups.map(async (g) => ({
      g,
      a: await attempt('iam:SimulatePrincipalPolicy', () =>
        clients.iam.send(
          new SimulatePrincipalPolicyCommand({
            PolicySourceArn: principal.arn,
            ActionNames: g.actions,
            ResourceArns: g.resources,
            ContextEntries: g.context,
          }),
        ),
      ),
    })),
  );
  const verdict = (use: PermissionGroup['use']): PermissionVerdict => {
    const mine = answers.filter((x) => x.g.use === use);
    const failed = mine.find((x) => 'err' in x.a);
    if (failed && 'err' in failed.a) {
      const why = isDenied(failed.a)
        ? `your identity may not call iam:SimulatePrincipalPolicy on ${principal.arn}`
        : failed.a.err.message;
      return {
        status: 'unknown',
        text: `could not check (${why}): make sure you may ${names(use).join(', ')}`,
      };
    }
    const missing = mine.flatMap((x) =>
      'ok' in x.a ? deniedPairs(x.a.ok.EvaluationResults ?? []).map((d) => ({ d, g: x.g })) : [],
    );
    if (missing.length === 0) {
      return { status: 'ok', text: `${principal.arn} may ${names(use).join(', ')}` };
    }
    const actions = deniedActions(missing.map((m) => m.d));
    const whys = [...new Set(missing.map((m) => m.g.why))];
    const scp = missing.some((m) => m.d.reason.includes('SCP'));
    return {
      status: use === 'deploy' ? 'fail' : 'warn',
      text: `${principal.arn} may not ${actions.join(', ')} (${whys.join('; ')})${scp ? ' — denied by an organization policy (SCP)' : ''}: ask your administrator to allow ${actions.length === 1 ? 'it' : 'them'} (docs/permissions.md lists the policy)`,
    };
  };
  return [verdict('deploy'), verdict('cli')];
}
