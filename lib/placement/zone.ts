/**
 * Where the training instance goes, decided once at deploy time by the placement lookup
 * (lib/lambda/placement-handler.ts, wired by lib/constructs/instance-placement.ts). Pure functions: the
 * handler feeds them what EC2 answered, so the rules are tested without AWS.
 *
 * Rules (in order):
 * 1. `-c availabilityZone=<az>` pins the zone: it must offer the type, or the deploy fails naming the zones
 *    that do.
 * 2. The zone chosen before stays while it still offers the type (a redeploy never moves the instance).
 * 3. Otherwise the first zone, by name, that offers the type and is available.
 * 4. No zone offers it: one line naming the types of the same kind that this region does offer.
 */

/** Instance types suggested when the configured one is offered nowhere in the region (GPU first). */
export const ALTERNATIVE_INSTANCE_TYPES = [
  'g4dn.xlarge',
  'g5.xlarge',
  'g6.xlarge',
  'g6e.xlarge',
  'gr6.4xlarge',
  'c7i.4xlarge',
  'c6i.4xlarge',
  'm7i.4xlarge',
] as const;

/** One row of DescribeInstanceTypeOfferings (LocationType availability-zone). */
export interface ZoneOffering {
  readonly instanceType: string;
  readonly zone: string;
}

export interface PlacementInput {
  readonly instanceType: string;
  readonly region: string;
  /** Offerings of the configured type and of the alternatives, in any order. */
  readonly offerings: readonly ZoneOffering[];
  /** Zones in state `available` (DescribeAvailabilityZones); others are skipped. */
  readonly availableZones: readonly string[];
  /** `-c availabilityZone`, when set. */
  readonly pinnedZone?: string;
  /** The zone an earlier deploy chose (the lookup's physical id), when there is one. */
  readonly currentZone?: string;
}

export type PlacementResult = { readonly zone: string } | { readonly error: string };

/** Available zones offering `instanceType`, sorted by name. */
export function zonesOffering(input: PlacementInput, instanceType: string): string[] {
  const available = new Set(input.availableZones);
  const zones = input.offerings
    .filter((o) => o.instanceType === instanceType && available.has(o.zone))
    .map((o) => o.zone);
  return [...new Set(zones)].sort();
}

/** The zone for the instance, or one line saying why there is none and what would work. */
export function chooseZone(input: PlacementInput): PlacementResult {
  const { instanceType, region } = input;
  const usable = zonesOffering(input, instanceType);
  if (input.pinnedZone) {
    if (usable.includes(input.pinnedZone)) return { zone: input.pinnedZone };
    if (usable.length > 0) {
      return {
        error:
          `${instanceType} is not offered in ${input.pinnedZone} (-c availabilityZone); in ${region} it is ` +
          `offered in ${usable.join(', ')}: pass one of these, or leave availabilityZone unset to have it chosen.`,
      };
    }
  }
  const [firstUsable] = usable;
  if (firstUsable !== undefined) {
    if (input.currentZone && usable.includes(input.currentZone)) return { zone: input.currentZone };
    return { zone: firstUsable };
  }
  const alternatives = ALTERNATIVE_INSTANCE_TYPES.filter((t) => t !== instanceType)
    .map((t) => ({ type: t, zones: zonesOffering(input, t) }))
    .filter((a) => a.zones.length > 0);
  const offered = alternatives.map((a) => `${a.type} (${a.zones.join(', ')})`).join(', ');
  return {
    error:
      `${instanceType} is not offered in any Availability Zone of ${region}` +
      (offered
        ? `; offered there: ${offered}. Deploy with -c instanceType=<one of these>, or to another region.`
        : '; none of the supported types is offered there either: deploy to another region (e.g. us-east-1).'),
  };
}

/**
 * EC2 refuses a root volume smaller than the AMI's root snapshot, minutes into a deploy and with a cryptic
 * message; the lookup checks it first. Returns the one-line refusal, or undefined when the size is fine.
 */
export function rootVolumeRefusal(
  rootVolumeGiB: number,
  snapshotGiB: number,
  imageId: string,
): string | undefined {
  if (rootVolumeGiB >= snapshotGiB) return undefined;
  return (
    `rootVolumeGiB=${rootVolumeGiB} is smaller than the root snapshot of the AMI ${imageId} ` +
    `(${snapshotGiB} GiB): deploy with -c rootVolumeGiB=${snapshotGiB} or more.`
  );
}

/** True for an Availability Zone name such as us-east-1b (a physical id from an earlier deploy). */
export const isZoneName = (value: string | undefined): value is string =>
  typeof value === 'string' && /^[a-z]{2}(-[a-z]+)+-\d[a-z]$/.test(value);
