import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ListBucketsCommand } from '@aws-sdk/client-s3';
import { CredentialsProviderError } from '@smithy/core/config';
import { aws, CloudError, mapAwsError } from '../../lib/cloud/aws-errors';
import { createClients } from '../../lib/cloud/clients';
import { UserError } from '../../lib/errors';
import { awsError } from './support';

// Every SDK failure becomes one line that says what to do. These are the errors the SDK v3 really throws.
const cases: Array<[string, Error, CloudError['kind'], RegExp]> = [
  [
    'no credentials',
    Object.assign(new Error('Could not load credentials from any providers'), {
      name: 'CredentialsProviderError',
    }),
    'no-credentials',
    /^no AWS credentials found: run `aws configure`/,
  ],
  [
    'unknown profile',
    Object.assign(new Error('Profile lab could not be found or parsed in shared credentials file.'), {
      name: 'CredentialsProviderError',
    }),
    'no-credentials',
    /^AWS profile not found \(Profile lab could not be found/,
  ],
  [
    'expired SSO',
    Object.assign(
      new Error('The SSO session associated with this profile has expired or is otherwise invalid.'),
      {
        name: 'CredentialsProviderError',
      },
    ),
    'expired-credentials',
    /aws sso login/,
  ],
  ['no region', new Error('Region is missing'), 'no-region', /^no AWS region set: pass --region/],
  [
    'expired token',
    awsError('ExpiredTokenException', 'The security token included in the request is expired'),
    'expired-credentials',
    /have expired \(ssm:SendCommand\)/,
  ],
  [
    'bad key',
    awsError('UnrecognizedClientException', 'The security token is invalid', 400),
    'invalid-credentials',
    /rejected your credentials \(UnrecognizedClientException on ssm:SendCommand\)/,
  ],
  [
    'EC2 auth failure',
    awsError('AuthFailure', 'AWS was not able to validate the provided access credentials'),
    'invalid-credentials',
    /AuthFailure/,
  ],
  [
    'SSM access denied',
    awsError('AccessDeniedException', 'User: arn:aws:iam::1:user/x is not authorized', 400),
    'access-denied',
    /^access denied: your AWS identity may not call ssm:SendCommand/,
  ],
  [
    'EC2 unauthorized',
    awsError(
      'UnauthorizedOperation',
      'You are not authorized to perform this operation. Encoded authorization failure message: xyz',
    ),
    'access-denied',
    /may not call ssm:SendCommand/,
  ],
  ['S3 403 without a name', awsError('Forbidden', '', 403), 'access-denied', /access denied/],
  [
    'throttled',
    awsError('ThrottlingException', 'Rate exceeded'),
    'throttled',
    /throttling ssm:SendCommand: wait a minute/,
  ],
  [
    'offline',
    Object.assign(new Error('getaddrinfo ENOTFOUND ssm.eu-west-1.amazonaws.com'), { name: 'Error' }),
    'network',
    /^cannot reach AWS for ssm:SendCommand/,
  ],
  [
    'bucket gone',
    awsError('NoSuchBucket', 'The specified bucket does not exist', 404),
    'stack-not-deployed',
    /was the stack destroyed\? Run `npx cdk deploy`/,
  ],
  [
    'anything else',
    awsError('InternalServerError', 'boom\n  at line 2', 500),
    'failed',
    /^ssm:SendCommand failed: InternalServerError: boom at line 2$/,
  ],
];

test.each(cases)('%s', (_label, err, kind, message) => {
  const mapped = mapAwsError(err, 'ssm:SendCommand');
  expect(mapped).toBeInstanceOf(CloudError);
  expect((mapped as CloudError).kind).toBe(kind);
  expect(mapped.message).toMatch(message);
  expect(mapped.message).not.toContain('\n');
  expect(mapped.exitCode).toBe(3);
});

test('a UserError passes through unchanged', () => {
  const e = new UserError('already clear');
  expect(mapAwsError(e, 'x')).toBe(e);
});

describe('the real SDK credential provider chain (temporary AWS_CONFIG_FILE, no network)', () => {
  const saved = { ...process.env };
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'aws-config-'));
    writeFileSync(
      path.join(dir, 'config'),
      '[default]\nregion = eu-west-1\n\n[profile lab]\nregion = eu-west-1\n\n[profile empty]\nregion = eu-west-1\n',
    );
    writeFileSync(
      path.join(dir, 'credentials'),
      '[lab]\naws_access_key_id = AKIAEXAMPLE\naws_secret_access_key = x\n',
    );
    for (const k of Object.keys(process.env))
      if (/^AWS_(ACCESS_KEY_ID|SECRET_ACCESS_KEY|SESSION_TOKEN|PROFILE|CONTAINER_|WEB_IDENTITY)/.test(k))
        delete process.env[k];
    process.env.AWS_CONFIG_FILE = path.join(dir, 'config');
    process.env.AWS_SHARED_CREDENTIALS_FILE = path.join(dir, 'credentials');
    process.env.AWS_EC2_METADATA_DISABLED = 'true';
  });
  afterAll(() => {
    process.env = saved;
    rmSync(dir, { recursive: true, force: true });
  });

  const listBuckets = (profile: string) => {
    const clients = createClients({ profile, region: 'eu-west-1' });
    return aws('s3:ListBuckets', () => clients.s3.send(new ListBucketsCommand({}))).finally(() =>
      clients.s3.destroy(),
    );
  };

  test('an unknown --profile is reported as a missing profile, with the profiles that exist', async () => {
    const err = await listBuckets('nope').catch((e: Error) => e);
    // What the SDK itself threw (its class, not a copied message).
    const cause = (err as CloudError).cause as Error;
    expect(cause).toBeInstanceOf(CredentialsProviderError);
    expect(cause.message).toBe('Could not load credentials from any providers');
    expect((err as CloudError).message).toBe(
      `AWS profile 'nope' is not defined in ${path.join(dir, 'config')} or ${path.join(dir, 'credentials')} (profiles there: default, lab, empty): check the name (--profile / AWS_PROFILE), or create it with \`aws configure --profile nope\``,
    );
    expect((err as CloudError).kind).toBe('no-credentials');
  });

  test('AWS_PROFILE naming an unknown profile: the same', async () => {
    process.env.AWS_PROFILE = 'typo';
    try {
      const clients = createClients({ region: 'eu-west-1' });
      const err = await aws('s3:ListBuckets', () => clients.s3.send(new ListBucketsCommand({}))).catch(
        (e: Error) => e,
      );
      expect((err as Error).message).toMatch(/^AWS profile 'typo' is not defined in /);
    } finally {
      delete process.env.AWS_PROFILE;
    }
  });

  test('a profile that exists but has no credentials: no credentials, not a missing profile', async () => {
    const err = await listBuckets('empty').catch((e: Error) => e);
    expect((err as Error).message).toMatch(/^no AWS credentials found: run `aws configure`/);
  });
});
