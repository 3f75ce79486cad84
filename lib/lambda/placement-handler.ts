import {
  DescribeAvailabilityZonesCommand,
  DescribeImagesCommand,
  DescribeInstanceTypeOfferingsCommand,
  EC2Client,
  type InstanceTypeOffering,
} from '@aws-sdk/client-ec2';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import {
  ALTERNATIVE_INSTANCE_TYPES,
  chooseZone,
  isZoneName,
  rootVolumeRefusal,
  type ZoneOffering,
} from '../placement/zone';

/**
 * The placement lookup (custom resource `Custom::BnnPynqPlacement`, lib/constructs/instance-placement.ts).
 * On create and update: picks the Availability Zone for the instance (lib/placement/zone.ts rules, from
 * DescribeInstanceTypeOfferings), and checks the root volume against the AMI the instance will launch
 * from (the AMI parameter's current value → DescribeImages). Its physical id is the zone, so an update
 * keeps the zone while it still offers the type. Delete does nothing. Any refusal fails the deploy with
 * its one line (CloudFormation shows it as the resource's status reason).
 */

/** The custom resource's properties (CloudFormation passes them as strings). */
export interface PlacementProperties {
  readonly InstanceType: string;
  readonly AmiParameter: string;
  readonly RootVolumeGiB: string;
  /** `-c availabilityZone`, or '' */
  readonly PinnedZone?: string;
}

export interface PlacementData {
  readonly Zone: string;
  /** The AMI the parameter pointed at during this deploy (the instance resolves it again at launch). */
  readonly ImageId: string;
  readonly SnapshotGiB: string;
}

export interface PlacementDeps {
  readonly ec2: EC2Client;
  readonly ssm: SSMClient;
  readonly region: string;
}

async function allOfferings(ec2: EC2Client, types: string[]): Promise<ZoneOffering[]> {
  const out: ZoneOffering[] = [];
  let NextToken: string | undefined;
  do {
    const page = await ec2.send(
      new DescribeInstanceTypeOfferingsCommand({
        LocationType: 'availability-zone',
        Filters: [{ Name: 'instance-type', Values: types }],
        NextToken,
      }),
    );
    for (const o of page.InstanceTypeOfferings ?? ([] as InstanceTypeOffering[])) {
      if (o.InstanceType && o.Location) out.push({ instanceType: o.InstanceType, zone: o.Location });
    }
    NextToken = page.NextToken;
  } while (NextToken);
  return out;
}

/** Size (GiB) of the root snapshot of the AMI the parameter names now. */
async function amiRootSnapshot(
  deps: PlacementDeps,
  parameter: string,
): Promise<{ imageId: string; gib: number }> {
  const value = await deps.ssm.send(new GetParameterCommand({ Name: parameter }));
  const imageId = value.Parameter?.Value;
  if (!imageId) throw new Error(`the AMI parameter ${parameter} has no value in ${deps.region}`);
  const images = await deps.ec2.send(new DescribeImagesCommand({ ImageIds: [imageId] }));
  const image = images.Images?.[0];
  if (!image) throw new Error(`the AMI ${imageId} (from ${parameter}) is not visible in ${deps.region}`);
  const root = image.BlockDeviceMappings?.find((m) => m.DeviceName === image.RootDeviceName);
  return { imageId, gib: root?.Ebs?.VolumeSize ?? 0 };
}

/** Create/Update: the zone and the AMI check. Throws the one-line refusal. */
export async function place(
  deps: PlacementDeps,
  props: PlacementProperties,
  currentZone?: string,
): Promise<PlacementData> {
  const types = [...new Set([props.InstanceType, ...ALTERNATIVE_INSTANCE_TYPES])];
  const [offerings, zones, ami] = await Promise.all([
    allOfferings(deps.ec2, types),
    deps.ec2.send(
      new DescribeAvailabilityZonesCommand({ Filters: [{ Name: 'state', Values: ['available'] }] }),
    ),
    amiRootSnapshot(deps, props.AmiParameter),
  ]);
  const choice = chooseZone({
    instanceType: props.InstanceType,
    region: deps.region,
    offerings,
    availableZones: (zones.AvailabilityZones ?? [])
      .filter((z) => (z.ZoneType ?? 'availability-zone') === 'availability-zone')
      .map((z) => z.ZoneName ?? '')
      .filter(Boolean),
    pinnedZone: props.PinnedZone || undefined,
    currentZone: isZoneName(currentZone) ? currentZone : undefined,
  });
  if ('error' in choice) throw new Error(choice.error);
  const refusal = rootVolumeRefusal(Number(props.RootVolumeGiB), ami.gib, ami.imageId);
  if (refusal) throw new Error(refusal);
  return { Zone: choice.zone, ImageId: ami.imageId, SnapshotGiB: String(ami.gib) };
}

/** The response body CloudFormation expects at the event's ResponseURL. */
export function responseBody(
  event: CloudFormationCustomResourceEvent,
  outcome: { data: PlacementData; physicalId: string } | { error: string; physicalId: string },
): Record<string, unknown> {
  const common = {
    StackId: event.StackId,
    RequestId: event.RequestId,
    LogicalResourceId: event.LogicalResourceId,
    PhysicalResourceId: outcome.physicalId,
  };
  return 'error' in outcome
    ? { ...common, Status: 'FAILED', Reason: outcome.error.slice(0, 3000) }
    : { ...common, Status: 'SUCCESS', Data: outcome.data };
}

export type Respond = (url: string, body: Record<string, unknown>) => Promise<void>;

/** PUT to the pre-signed S3 URL: no content type (it is not part of the signature). */
export const putResponse: Respond = async (url, body) => {
  const text = JSON.stringify(body);
  const res = await fetch(url, {
    method: 'PUT',
    body: text,
    headers: { 'content-type': '', 'content-length': String(Buffer.byteLength(text)) },
  });
  if (!res.ok) throw new Error(`CloudFormation response PUT failed: HTTP ${res.status}`);
};

export function createPlacementHandler(
  deps: () => PlacementDeps,
  respond: Respond = putResponse,
  log: (line: string) => void = (l) => console.log(l),
): (event: CloudFormationCustomResourceEvent) => Promise<void> {
  return async (event) => {
    const previous = event.RequestType === 'Create' ? undefined : event.PhysicalResourceId;
    let outcome: Parameters<typeof responseBody>[1];
    if (event.RequestType === 'Delete') {
      outcome = { physicalId: event.PhysicalResourceId, data: { Zone: '', ImageId: '', SnapshotGiB: '' } };
    } else {
      try {
        const props = event.ResourceProperties as unknown as PlacementProperties;
        const data = await place(deps(), props, previous);
        outcome = { physicalId: data.Zone, data };
      } catch (err) {
        // A failed create needs some physical id; an update keeps the old one (CloudFormation rolls back to it).
        outcome = { physicalId: previous ?? 'placement-failed', error: (err as Error).message };
      }
    }
    log(JSON.stringify({ request: event.RequestType, outcome }));
    await respond(event.ResponseURL, responseBody(event, outcome));
  };
}

export const handler = createPlacementHandler(() => {
  const region = process.env.AWS_REGION ?? '';
  return { ec2: new EC2Client({ region }), ssm: new SSMClient({ region }), region };
});
