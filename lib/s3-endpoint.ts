/** Env var that points S3 clients at an S3-compatible server (tests: s3rver on loopback). */
export const S3_ENDPOINT_ENV = 'BNN_PYNQ_S3_ENDPOINT';

/**
 * S3 client options for `endpoint` (from S3_ENDPOINT_ENV), or none for real S3. Such servers want path-style
 * addressing and predate the SDK's default CRC32 request checksums, so checksums are sent only when required.
 */
export function s3EndpointOptions(endpoint: string | undefined) {
  if (!endpoint) return {};
  return {
    endpoint,
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED' as const,
    responseChecksumValidation: 'WHEN_REQUIRED' as const,
  };
}
