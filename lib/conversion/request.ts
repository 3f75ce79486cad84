import { z } from 'zod';
import { UserError } from '../errors';
import { DATASET_NAME_PATTERN, isNetwork, NETWORKS, type Network, RUN_ID_PATTERN } from '../layout';

/**
 * The conversion job's input. The SSM Automation document `convert` passes its parameters
 * (CONVERT_AUTOMATION_PARAMETERS in lib/layout.ts) as strings; the EventBridge rule passes the
 * object key `runs/<runId>/model.npz` as `runId`, since an input transformer cannot cut a key apart.
 */
export interface ConversionRequest {
  runId: string;
  /** Undefined: take it from runs/<runId>/run.json, else the default dataset. */
  dataset: string | undefined;
  /** Undefined: take it from runs/<runId>/run.json, else the default network. */
  network: Network | undefined;
  /**
   * true / false, or `auto` (what the model-upload trigger sends): publish unless the run belongs to a sweep
   * (run.json `sweepId`), whose best run `bnn-pynq sweep best --publish` chooses and publishes.
   */
  publish: boolean | 'auto';
}

/** `runs/<runId>/model.npz` (what S3 events carry) or a bare run id. */
const MODEL_KEY = /^runs\/([^/]+)\/model\.npz$/;

const optionalText = z
  .string()
  .nullish()
  .transform((v) => (v === null || v === undefined || v.trim() === '' ? undefined : v.trim()));

const rawRequest = z.object({
  runId: z.string({ error: 'runId is required (a run id, or the key runs/<runId>/model.npz)' }),
  dataset: optionalText,
  network: optionalText,
  publish: z.union([z.boolean(), z.string()]).nullish(),
});

export function parseConversionRequest(event: unknown): ConversionRequest {
  const parsed = rawRequest.safeParse(event ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new UserError(`invalid conversion request: ${issue?.path.join('.') || 'input'}: ${issue?.message}`);
  }
  const raw = parsed.data;
  const trimmed = raw.runId.trim();
  const runId = MODEL_KEY.exec(trimmed)?.[1] ?? trimmed;
  if (!RUN_ID_PATTERN.test(runId)) {
    throw new UserError(
      `invalid runId ${JSON.stringify(raw.runId)}: expected a run id like 20261126-061500-fashion-mnist-a1b2 ` +
        '(lower-case letters, digits, dashes) or the key runs/<runId>/model.npz',
    );
  }
  if (raw.dataset !== undefined && !DATASET_NAME_PATTERN.test(raw.dataset)) {
    throw new UserError(
      `invalid dataset ${JSON.stringify(raw.dataset)}: lower-case letters, digits and dashes, e.g. fashion-mnist`,
    );
  }
  const network = raw.network;
  if (network !== undefined && !isNetwork(network)) {
    throw new UserError(`invalid network ${JSON.stringify(network)}: supported are ${NETWORKS.join(', ')}`);
  }
  return { runId, dataset: raw.dataset, network, publish: parsePublish(raw.publish) };
}

function parsePublish(value: boolean | string | null | undefined): boolean | 'auto' {
  if (typeof value === 'boolean') return value;
  const text = (value ?? '').trim().toLowerCase();
  if (text === 'auto') return 'auto';
  if (text === '' || text === 'true') return true;
  if (text === 'false') return false;
  throw new UserError(`invalid publish ${JSON.stringify(value)}: use true, false or auto`);
}
