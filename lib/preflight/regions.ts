/**
 * Where else to look when the configured instance type is offered nowhere in the deploy region: nearby
 * regions to ask (the types offered in the region itself come from lib/placement/zone.ts, as at deploy).
 */

/** Regions of the same geography (the first part of the name), largest first; at most `max`. */
const BY_GEOGRAPHY: Record<string, readonly string[]> = {
  us: ['us-east-1', 'us-east-2', 'us-west-2', 'us-west-1'],
  ca: ['ca-central-1', 'us-east-1', 'us-east-2'],
  sa: ['sa-east-1', 'us-east-1'],
  eu: ['eu-west-1', 'eu-central-1', 'eu-west-2', 'eu-north-1', 'eu-west-3'],
  me: ['me-central-1', 'eu-central-1', 'eu-west-1'],
  il: ['il-central-1', 'eu-central-1', 'eu-west-1'],
  af: ['af-south-1', 'eu-west-1'],
  ap: ['ap-northeast-1', 'ap-southeast-1', 'ap-south-1', 'ap-southeast-2', 'ap-northeast-2'],
};

export function nearbyRegions(region: string, max = 4): string[] {
  const geo = region.split('-')[0] ?? '';
  return (BY_GEOGRAPHY[geo] ?? BY_GEOGRAPHY.us ?? []).filter((r) => r !== region).slice(0, max);
}
