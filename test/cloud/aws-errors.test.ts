import { CloudError, mapAwsError } from '../../lib/cloud/aws-errors';
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
