/**
 * What to suggest when the configured instance type is offered nowhere in the deploy region: the other
 * types the training code supports (pure), and nearby regions to ask.
 */
import type { Device } from '../config';

/** The smallest size of each supported GPU family (T4, A10G, L4), and CPU types of the same size class. */
const ALTERNATIVES: Record<Device, readonly string[]> = {
  gpu: ['g4dn.xlarge', 'g5.xlarge', 'g6.xlarge'],
  cpu: ['c7i.4xlarge', 'c6i.4xlarge', 'm7i.4xlarge'],
};

export function alternativeTypes(instanceType: string, device: Device): string[] {
  return ALTERNATIVES[device].filter((t) => t !== instanceType);
}

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
