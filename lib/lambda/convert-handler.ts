import { S3Client } from '@aws-sdk/client-s3';
import { type ConversionConfig, conversionConfigFromEnv } from '../conversion/config';
import { type ConversionSummary, runConversion } from '../conversion/job';
import { parseConversionRequest } from '../conversion/request';
import { S3_ENDPOINT_ENV, s3EndpointOptions } from '../s3-endpoint';

/**
 * Lambda entry of the conversion job (invoked by the `convert` SSM Automation document).
 * A refusal (bad npz, missing run or dataset, accuracy below the floor) is thrown: Lambda reports it as a
 * function error, which fails the automation step with this message. Thin on purpose: the work is
 * in lib/conversion.
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

export const handler = createConvertHandler();
