/**
 * Deployment configuration of the CDK app: typed and validated once, here.
 *
 * Values come from the `context` block of cdk.json, overridden by `cdk synth|deploy -c key=value`.
 * `-c` values always arrive as strings, so numbers and booleans are parsed from strings too (strictly:
 * `true`/`false`, decimal integers). Constructs receive the parsed object as props and never read
 * context or process.env themselves.
 */
import { z } from 'zod';
import { ACCURACY_FLOOR, accuracyFloorProblem } from './conversion/config';
import { at, captures, must } from './defined';
import { UserError } from './errors';
import { DEFAULT_STACK_NAME } from './layout';

/** Values CloudWatch Logs accepts as a retention period, in days. */
export const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

export type Device = 'gpu' | 'cpu';

/**
 * Whether an EC2 instance type gets the GPU (Deep Learning Base OSS Nvidia Driver) AMI or the plain
 * Ubuntu AMI, or is refused. The training stack (Theano 1.0.5 + libgpuarray 0.7.6, see
 * docs/configuration.md) needs x86_64 and, for GPU, an NVIDIA GPU of compute capability 7.5–9.0:
 * g4dn (T4), g5 (A10G), g6/g6e/gr6 (L4/L40S), p4d/p4de (A100), p5/p5e/p5en (H100/H200).
 * Returns a reason string instead of a device when the type cannot work.
 */
export function deviceForInstanceType(instanceType: string): Device | { refused: string } {
  const match = /^([a-z]+)(\d+)([a-z0-9-]*)\.([a-z0-9]+)$/.exec(instanceType);
  if (!match) return { refused: 'not an EC2 instance type of the form <family>.<size>, e.g. g4dn.xlarge' };
  const [series, generationText, attributes] = captures(match, 3, 'the instance type pattern');
  const generation = Number(generationText);
  const family = `${series}${generation}${attributes}`;
  // AWS naming: an attribute `g` after the generation means a Graviton (arm64) processor.
  if (attributes.includes('g')) {
    return { refused: `${family} is an arm64 (Graviton) family; the training environment needs x86_64` };
  }
  if (series === 'g' || series === 'gr' || series === 'p') {
    if (family === 'g4dn' || family === 'g5' || family === 'g6' || family === 'g6e' || family === 'gr6')
      return 'gpu';
    if (family === 'p4d' || family === 'p4de' || family.startsWith('p5')) return 'gpu';
    if (family === 'g4ad')
      return { refused: 'g4ad has an AMD GPU; the training code needs an NVIDIA (CUDA) GPU' };
    return {
      refused:
        `${family} has a GPU the pinned Theano/libgpuarray cannot use (too old for current drivers, or ` +
        'Blackwell); use g4dn, g5, g6, g6e, gr6, p4d or p5, or a CPU type such as c7i.4xlarge',
    };
  }
  if (['inf', 'trn', 'dl', 'f', 'vt', 'mac', 'u'].includes(series)) {
    return {
      refused: `${family} is an accelerator/special-purpose family; use a GPU (g4dn) or CPU (c7i) type`,
    };
  }
  return 'cpu';
}

/**
 * Public SSM parameters AWS and Canonical keep pointing at the current AMI, per device. The training
 * instance's AMI comes from here (lib/constructs/training-instance.ts); `bnn-pynq preflight` checks that
 * the parameter resolves in the deploy region.
 */
export const AMI_PARAMETERS: Record<Device, string> = {
  gpu: '/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-ubuntu-22.04/latest/ami-id',
  cpu: '/aws/service/canonical/ubuntu/server/22.04/stable/current/amd64/hvm/ebs-gp2/ami-id',
};

/** `-c` gives strings; cdk.json gives JSON types. Accept both, strictly. */
const booleanValue = z.preprocess(
  (v) => (v === 'true' ? true : v === 'false' ? false : v),
  z.boolean({ error: 'must be true or false' }),
);
const integerValue = (min: number, max: number) =>
  z.preprocess(
    (v) => (typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v.trim()) : v),
    z
      .number({ error: 'must be a whole number' })
      .int({ error: 'must be a whole number' })
      .min(min, { error: `must be at least ${min}` })
      .max(max, { error: `must be at most ${max}` }),
  );
const numberValue = (min: number, max: number) =>
  z.preprocess(
    (v) => (typeof v === 'string' && /^\d+(\.\d+)?$/.test(v.trim()) ? Number(v.trim()) : v),
    z
      .number({ error: 'must be a number' })
      .gt(min, { error: `must be greater than ${min}` })
      .lt(max, { error: `must be less than ${max}` }),
  );

export const ConfigSchema = z.object({
  /** CloudFormation stack name; also the discovery prefix `/bnn-pynq/<stackName>/`. */
  stackName: z
    .string()
    .regex(/^[A-Za-z][A-Za-z0-9-]{0,63}$/, {
      error: 'must start with a letter and contain only letters, digits and dashes (at most 64 characters)',
    })
    .default(DEFAULT_STACK_NAME),
  /** EC2 instance type of the training instance; GPU vs CPU AMI follows from it. */
  instanceType: z
    .string()
    .superRefine((value, ctx) => {
      const device = deviceForInstanceType(value);
      if (typeof device !== 'string') ctx.addIssue({ code: 'custom', message: device.refused });
    })
    .default('g4dn.xlarge'),
  /** Spot instead of on-demand: a persistent request that stops (not terminates) on interruption. */
  spot: booleanValue.default(false),
  /** Root volume (gp3, encrypted) in GiB: AMI + micromamba env (~10 GiB) + datasets + checkpoints. */
  rootVolumeGiB: integerValue(30, 2000).default(100),
  /** Stop the instance after this many idle minutes (0 = never). CloudWatch basic monitoring: 5-minute steps. */
  idleMinutes: integerValue(0, 1440)
    .refine((m) => m % 5 === 0, {
      error: 'must be 0 (off) or a multiple of 5 (EC2 metrics come every 5 minutes)',
    })
    .default(60),
  /** Average CPU utilization (percent) below which a 5-minute period counts as idle. */
  idleCpuPercent: numberValue(0, 100).default(5),
  /** Keep the dataset, artifact and log buckets (and the log group) when the stack is destroyed. */
  retainData: booleanValue.default(true),
  /** Put the instance in this Availability Zone (e.g. when the default one has no capacity for the type). */
  availabilityZone: z
    .string()
    .regex(/^[a-z]{2}(-[a-z]+)+-\d[a-z]$/, { error: 'must be an Availability Zone name such as us-east-1b' })
    .optional(),
  /**
   * The sweeps construct (AWS Batch + the training image, `bnn-pynq sweep`, docs/sweeps.md). On by default:
   * it scales to zero, so idle it costs only the images stored in ECR.
   */
  sweeps: booleanValue.default(true),
  /**
   * Move the instance to the newest AMI: any new value replaces the instance once (a fresh bootstrap,
   * ~15-20 min; buckets and runs stay). Unset or unchanged, the instance keeps the AMI it launched from.
   */
  refreshAmi: z
    .string()
    .regex(/^[A-Za-z0-9._:-]{1,64}$/, {
      error: 'must be a short token of letters, digits and . _ : - (e.g. a date: 2026-12-01)',
    })
    .optional(),
  /** How long CloudWatch keeps the instance's logs. */
  logRetentionDays: integerValue(1, 3653)
    .refine((d) => (LOG_RETENTION_DAYS as readonly number[]).includes(d), {
      error: `must be one of ${LOG_RETENTION_DAYS.join(', ')}`,
    })
    .default(30),
  /**
   * Accuracy floor of the conversion job: params whose verified board-rule accuracy on the dataset's test
   * set is below this (percent) are not published. Stops broken params, not weak ones (chance is 10 %).
   */
  minAccuracyPercent: z
    .preprocess(
      (v) => (typeof v === 'string' && /^\d+(\.\d+)?$/.test(v.trim()) ? Number(v.trim()) : v),
      z.number({ error: 'must be a number' }).superRefine((v, ctx) => {
        const problem = accuracyFloorProblem(v);
        if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
      }),
    )
    .default(ACCURACY_FLOOR.default),
});

export type BnnPynqConfig = z.infer<typeof ConfigSchema>;
export const CONFIG_KEYS = Object.keys(ConfigSchema.shape) as (keyof BnnPynqConfig)[];

/** Edit distance (insertions, deletions, substitutions), for "did you mean". */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++)
      row[j] = Math.min(
        at(previous, j, 'the previous row') + 1,
        at(row, j - 1, 'the row') + 1,
        at(previous, j - 1, 'the previous row') + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    previous = row;
  }
  return at(previous, b.length, 'the last row');
}

const normalKey = (k: string) => k.toLowerCase().replace(/[-_.\s]/g, '');

/** The known key nearest to `key` (case, dashes and underscores ignored), with its distance. */
export function nearestConfigKey(key: string): { key: string; distance: number } {
  let best = { key: must(CONFIG_KEYS[0], 'the first config key'), distance: Number.POSITIVE_INFINITY };
  for (const k of CONFIG_KEYS) {
    const distance = editDistance(normalKey(key), normalKey(k));
    if (distance < best.distance) best = { key: k, distance };
  }
  return best;
}

/**
 * Why a context key is refused, or undefined. Context also carries the CDK's own keys, which are left
 * alone: feature flags (`@aws-cdk/...`), anything with a colon (`aws:cdk:...`, cached lookups such as
 * `availability-zones:account=...`) or a slash, and dashed names (`acknowledged-issue-numbers`,
 * `cdk-migrate`) unless they are a near miss of one of ours (`idle-minutes`). Every other key is ours to
 * know: a plain name that is not in the schema (`idleMinuts`) is a typo that would be ignored silently.
 */
export function unknownKeyProblem(key: string): string | undefined {
  if ((CONFIG_KEYS as readonly string[]).includes(key)) return undefined;
  if (key.startsWith('@') || key.includes(':') || key.includes('/')) return undefined;
  const nearest = nearestConfigKey(key);
  const plain = /^[A-Za-z][A-Za-z0-9]*$/.test(key);
  const near = nearest.distance <= Math.max(2, Math.floor(nearest.key.length / 4));
  if (!plain && !near) return undefined;
  const hint =
    normalKey(key) === normalKey(nearest.key)
      ? `did you mean '${nearest.key}'? (keys are case-sensitive, camelCase)`
      : near
        ? `did you mean '${nearest.key}'?`
        : `the keys are ${CONFIG_KEYS.join(', ')}`;
  return `unknown config key '${key}': ${hint} (cdk.json "context" or -c; see docs/configuration.md)`;
}

/** A context value is wrong; synth stops with this one message. */
export class ConfigError extends UserError {}

function describe(value: unknown): string {
  return typeof value === 'string' ? `'${value}'` : JSON.stringify(value);
}

/**
 * Validates raw context values (only the keys of the schema are read). Throws a ConfigError naming the
 * first bad key, its value and what is expected; also for a key that differs from a known one only in
 * case (`-c instancetype=...` would otherwise be ignored silently).
 */
export function parseConfig(raw: Record<string, unknown>): BnnPynqConfig {
  for (const key of Object.keys(raw)) {
    const problem = unknownKeyProblem(key);
    if (problem) throw new ConfigError(problem);
  }
  const picked = Object.fromEntries(CONFIG_KEYS.filter((k) => raw[k] !== undefined).map((k) => [k, raw[k]]));
  const result = ConfigSchema.safeParse(picked);
  if (!result.success) {
    const issue = must(result.error.issues[0], 'the first issue of a failed parse');
    const key = String(issue.path[0] ?? '');
    throw new ConfigError(
      `invalid config '${key}' = ${describe(raw[key])}: ${issue.message}. ` +
        `Fix it in cdk.json "context" or pass -c ${key}=<value> (see docs/configuration.md).`,
    );
  }
  return result.data;
}

/** Reads the configuration from a construct tree's context (cdk.json + `-c`). */
export function configFromContext(
  tryGetContext: (key: string) => unknown,
  allKeys: string[] = [],
): BnnPynqConfig {
  const raw: Record<string, unknown> = {};
  for (const key of new Set([...CONFIG_KEYS, ...allKeys])) {
    const value = tryGetContext(key);
    if (value !== undefined) raw[key] = value;
  }
  return parseConfig(raw);
}

/** The device of a validated config's instance type. */
export function configDevice(config: BnnPynqConfig): Device {
  const device = deviceForInstanceType(config.instanceType);
  if (typeof device !== 'string') throw new ConfigError(`invalid config 'instanceType': ${device.refused}`);
  return device;
}
