import { S3Client } from '@aws-sdk/client-s3';
import { type ConversionConfig, conversionConfigFromEnv } from '../conversion/config';
import { type ConversionSummary, runConversion } from '../conversion/job';
import type { ConversionResult } from '../conversion/outcome';
import { parseConversionRequest } from '../conversion/request';
import { UserError } from '../errors';
import { S3_ENDPOINT_ENV, s3EndpointOptions } from '../s3-endpoint';

/**
 * Lambda entry of the conversion job (invoked by the `convert` SSM Automation document).
 * A refusal (bad npz, missing run or dataset, accuracy below the floor) is answered, not thrown:
 * `{ outcome: 'refused', refusal }`, which the document's check step turns into a failed execution with
 * that message (lib/conversion/outcome.ts). Anything else thrown is a function error. Thin on purpose:
 * the work is in lib/conversion.
 */

export interface HandlerDeps {
  s3?: S3Client;
  config?: ConversionConfig;
  env?: Record<string, string | undefined>;
  log?: (message: string) => void;
  now?: () => Date;
}

/** The S3 client of the Lambda; BNN_PYNQ_S3_ENDPOINT points it at an S3-compatible server (tests only). */
function defaultS3(env: Record<string, string | undefined>): S3Client {
  return new S3Client(s3EndpointOptions(env[S3_ENDPOINT_ENV]));
}

export function createConvertHandler(deps: HandlerDeps = {}): (event: unknown) => Promise<ConversionSummary> {
  let s3 = deps.s3;
  return async (event: unknown) => {
    const env = deps.env ?? process.env;
    const log = deps.log ?? ((m: string) => console.log(m));
    const config = deps.config ?? conversionConfigFromEnv(env);
    s3 ??= defaultS3(env);
    const request = parseConversionRequest(event);
    try {
      const summary = await runConversion({ s3, config, log, now: deps.now }, request);
      log(JSON.stringify(summary));
      return summary;
    } catch (err) {
      log(`run ${request.runId}: failed: ${(err as Error).message}`);
      throw err;
    }
  };
}

/**
 * The Lambda's answer: the summary as `outcome: 'converted'`, a refusal (a UserError) as a handled one;
 * other errors propagate (Lambda reports them as a function error).
 */
export function answerRefusals(
  convert: (event: unknown) => Promise<ConversionSummary>,
): (event: unknown) => Promise<ConversionResult> {
  return async (event) => {
    try {
      return { ...(await convert(event)), outcome: 'converted' };
    } catch (err) {
      // ConversionRefused and an invalid request (both UserErrors): the user's input, not a fault.
      if (!(err instanceof UserError)) throw err;
      const runId = (event as { runId?: unknown } | null)?.runId;
      return { outcome: 'refused', runId: typeof runId === 'string' ? runId : '', refusal: err.message };
    }
  };
}

export const handler = answerRefusals(createConvertHandler());
