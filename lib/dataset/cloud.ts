import { S3Client } from '@aws-sdk/client-s3';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { UserError } from '../errors';
import { discoveryParameter } from '../layout';

/**
 * The two AWS calls `dataset import --upload` needs besides the uploads: a small local version of
 * what lib/cloud provides for the other commands (kept here so this feature does not depend on it).
 */

export const S3_ENDPOINT_ENV = 'BNN_PYNQ_S3_ENDPOINT';

export interface Connection {
  region?: string;
  profile?: string;
}

/** An S3 client; `BNN_PYNQ_S3_ENDPOINT` points it at an S3-compatible server (path-style, no default checksums). */
export function datasetS3Client(conn: Connection, env: NodeJS.ProcessEnv = process.env): S3Client {
  const endpoint = env[S3_ENDPOINT_ENV];
  return new S3Client({
    ...(conn.region ? { region: conn.region } : {}),
    ...(conn.profile ? { profile: conn.profile } : {}),
    ...(endpoint
      ? {
          endpoint,
          forcePathStyle: true,
          requestChecksumCalculation: 'WHEN_REQUIRED' as const,
          responseChecksumValidation: 'WHEN_REQUIRED' as const,
        }
      : {}),
  });
}

/** The DatasetBucket name the stack published in SSM (`/bnn-pynq/<stack>/dataset-bucket`). */
export async function discoverDatasetBucket(stack: string, conn: Connection): Promise<string> {
  const name = discoveryParameter(stack, 'dataset-bucket');
  const ssm = new SSMClient({
    ...(conn.region ? { region: conn.region } : {}),
    ...(conn.profile ? { profile: conn.profile } : {}),
  });
  try {
    const out = await ssm.send(new GetParameterCommand({ Name: name }));
    const value = out.Parameter?.Value;
    if (!value) throw new UserError(`SSM parameter ${name} is empty; redeploy the stack (cdk deploy)`);
    return value;
  } catch (err) {
    if (err instanceof UserError) throw err;
    const e = err as { name?: string; message?: string };
    if (e.name === 'ParameterNotFound')
      throw new UserError(
        `stack '${stack}' not found: SSM parameter ${name} does not exist${conn.region ? ` in ${conn.region}` : ''}. Deploy it (npx cdk deploy) or pass --stack/--region, or --bucket <name>`,
      );
    throw new UserError(
      `cannot read SSM parameter ${name}: ${e.name ?? ''} ${e.message ?? String(err)}`.trim(),
      {
        cause: err,
      },
    );
  } finally {
    ssm.destroy();
  }
}
