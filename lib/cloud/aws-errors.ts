import { UserError } from '../errors';

/**
 * Every AWS SDK failure becomes one line that says what is wrong and what to do. The CLI prints
 * `error: <line>` and exits non-zero; nothing else of the SDK's error (stack, request id) reaches the user.
 */
export class CloudError extends UserError {
  readonly kind: CloudErrorKind;
  constructor(kind: CloudErrorKind, message: string, cause?: unknown) {
    super(message, { exitCode: 3, cause });
    this.name = 'CloudError';
    this.kind = kind;
  }
}

export type CloudErrorKind =
  | 'no-credentials'
  | 'expired-credentials'
  | 'invalid-credentials'
  | 'no-region'
  | 'access-denied'
  | 'stack-not-deployed'
  | 'instance-stopped'
  | 'agent-offline'
  | 'bootstrap-failed'
  | 'run-not-found'
  | 'not-found'
  | 'network'
  | 'throttled'
  | 'timeout'
  | 'failed';

interface SdkErrorLike {
  name?: string;
  message?: string;
  Code?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number };
}

const CREDENTIAL_HINT =
  'run `aws configure` (or `aws sso login --profile <name>`), or pass --profile / set AWS_PROFILE';

/**
 * Maps an SDK error thrown by `action` (e.g. `ssm:SendCommand`) to a CloudError. Errors that are
 * already UserErrors pass through. Unknown errors keep the SDK's own message, prefixed by the action,
 * so the user still learns which call failed.
 */
export function mapAwsError(err: unknown, action: string): UserError {
  if (err instanceof UserError) return err;
  const e = (err ?? {}) as SdkErrorLike;
  const name = e.name ?? e.Code ?? e.code ?? '';
  const message = e.message ?? String(err);
  const status = e.$metadata?.httpStatusCode;

  if (name === 'CredentialsProviderError' || /could not load credentials/i.test(message)) {
    if (/profile .* could not be found/i.test(message)) {
      return new CloudError(
        'no-credentials',
        `AWS profile not found (${oneLine(message)}): ${CREDENTIAL_HINT}`,
        err,
      );
    }
    if (/sso/i.test(message) && /expired|refresh/i.test(message)) {
      return new CloudError(
        'expired-credentials',
        'your AWS SSO session has expired: run `aws sso login --profile <name>`',
        err,
      );
    }
    return new CloudError('no-credentials', `no AWS credentials found: ${CREDENTIAL_HINT}`, err);
  }
  if (/region is missing/i.test(message) || name === 'RegionMissing') {
    return new CloudError(
      'no-region',
      'no AWS region set: pass --region <region> (the one you deployed to), set AWS_REGION, or set a region in your profile',
      err,
    );
  }
  if (['ExpiredToken', 'ExpiredTokenException', 'RequestExpired', 'TokenRefreshRequired'].includes(name)) {
    return new CloudError(
      'expired-credentials',
      `your AWS credentials have expired (${action}): refresh them (\`aws sso login\`, or new session keys) and retry`,
      err,
    );
  }
  if (
    [
      'UnrecognizedClientException',
      'InvalidClientTokenId',
      'AuthFailure',
      'InvalidAccessKeyId',
      'SignatureDoesNotMatch',
      'IncompleteSignature',
    ].includes(name)
  ) {
    return new CloudError(
      'invalid-credentials',
      `AWS rejected your credentials (${name} on ${action}): check the access key and secret, or ${CREDENTIAL_HINT}`,
      err,
    );
  }
  if (
    ['AccessDenied', 'AccessDeniedException', 'UnauthorizedOperation', 'Forbidden'].includes(name) ||
    (status === 403 && name !== 'InvalidAccessKeyId')
  ) {
    // AWS often names the action it refused ("... is not authorized to perform: iam:PassRole on ..."),
    // which can differ from the call made (StartAutomationExecution needs iam:PassRole on the automation role).
    const base = action.split(' ')[0];
    const named = /perform:\s*([a-z0-9-]+:[A-Za-z0-9*]+)/.exec(message)?.[1] ?? base;
    return new CloudError(
      'access-denied',
      `access denied: your AWS identity may not call ${named === base ? action : `${named} (needed by ${action})`}; use a profile that may (--profile), or ask your administrator to allow ${named}`,
      err,
    );
  }
  if (
    [
      'ThrottlingException',
      'Throttling',
      'TooManyRequestsException',
      'SlowDown',
      'RequestLimitExceeded',
    ].includes(name)
  ) {
    return new CloudError('throttled', `AWS is throttling ${action}: wait a minute and retry`, err);
  }
  if (
    ['ENOTFOUND', 'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EAI_AGAIN', 'TimeoutError'].includes(name) ||
    /getaddrinfo|ECONNREFUSED|ENOTFOUND|socket hang up/.test(message)
  ) {
    return new CloudError(
      'network',
      `cannot reach AWS for ${action} (${oneLine(message)}): check your network connection and the region`,
      err,
    );
  }
  if (name === 'NoSuchBucket') {
    return new CloudError(
      'stack-not-deployed',
      `the stack's bucket no longer exists (${action}): was the stack destroyed? Run \`npx cdk deploy\``,
      err,
    );
  }
  return new CloudError('failed', `${action} failed: ${name ? `${name}: ` : ''}${oneLine(message)}`, err);
}

/** Runs one SDK call and maps whatever it throws. `action` names the IAM action, e.g. `s3:GetObject`. */
export async function aws<T>(action: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    throw (await missingProfileError(err)) ?? mapAwsError(err, action);
  }
}

/** The profile the commands asked for (--profile), noted by createClients; AWS_PROFILE otherwise. */
let requestedProfile: string | undefined;
export function noteRequestedProfile(profile: string | undefined): void {
  requestedProfile = profile;
}

/**
 * The SDK's credential chain reports an unknown profile like missing credentials ("Could not load
 * credentials from any providers"), so when it fails we look the profile up in the same shared config
 * and credentials files the SDK reads (its own loader, honouring AWS_CONFIG_FILE and
 * AWS_SHARED_CREDENTIALS_FILE) and say so when the profile is not there.
 */
export async function missingProfileError(err: unknown): Promise<CloudError | undefined> {
  if (!isCredentialsProviderError(err)) return undefined;
  const profile = requestedProfile ?? process.env.AWS_PROFILE;
  if (!profile) return undefined;
  const { loadSharedConfigFiles } = await import('@smithy/core/config');
  const files = await loadSharedConfigFiles({ ignoreCache: true }).catch(() => undefined);
  if (!files || profile in files.configFile || profile in files.credentialsFile) return undefined;
  const known = [
    ...new Set([...Object.keys(files.configFile), ...Object.keys(files.credentialsFile)]),
  ].filter((p) => !p.includes(' '));
  const where = `${process.env.AWS_CONFIG_FILE ?? '~/.aws/config'} or ${process.env.AWS_SHARED_CREDENTIALS_FILE ?? '~/.aws/credentials'}`;
  return new CloudError(
    'no-credentials',
    `AWS profile '${profile}' is not defined in ${where}${known.length ? ` (profiles there: ${known.slice(0, 8).join(', ')})` : ''}: check the name (--profile / AWS_PROFILE), or create it with \`aws configure --profile ${profile}\``,
    err,
  );
}

/** The SDK's CredentialsProviderError, by class (from the SDK's own package) or, across copies, by name. */
function isCredentialsProviderError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  try {
    const { CredentialsProviderError } =
      require('@smithy/core/config') as typeof import('@smithy/core/config');
    if (err instanceof CredentialsProviderError) return true;
  } catch {
    // the class is not loadable here: fall back to the name the SDK gives it
  }
  return err.name === 'CredentialsProviderError';
}

/** The SDK error name of `err` (e.g. `NoSuchKey`), or '' when it has none. */
export function awsErrorName(err: unknown): string {
  const e = (err ?? {}) as SdkErrorLike;
  return e.name ?? e.Code ?? e.code ?? '';
}

const oneLine = (s: string): string => s.replace(/\s+/g, ' ').trim().slice(0, 300);
