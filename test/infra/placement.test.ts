import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  DescribeAvailabilityZonesCommand,
  DescribeImagesCommand,
  DescribeInstanceTypeOfferingsCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { AMI_PARAMETERS } from '../../lib/constructs/training-instance';
import { createPlacementHandler, putResponse } from '../../lib/lambda/placement-handler';
import { chooseZone, type PlacementInput, rootVolumeRefusal } from '../../lib/placement/zone';

// The placement rules as a pure unit, then the custom-resource handler against mocked EC2/SSM clients
// with the real response shapes, its answer to CloudFormation captured.

const ZONES = ['eu-west-1a', 'eu-west-1b', 'eu-west-1c'];
const base = (over: Partial<PlacementInput> = {}): PlacementInput => ({
  instanceType: 'g4dn.xlarge',
  region: 'eu-west-1',
  offerings: [
    { instanceType: 'g4dn.xlarge', zone: 'eu-west-1c' },
    { instanceType: 'g4dn.xlarge', zone: 'eu-west-1b' },
    { instanceType: 'g5.xlarge', zone: 'eu-west-1a' },
  ],
  availableZones: ZONES,
  ...over,
});

describe('chooseZone', () => {
  test('the first zone by name that offers the type (not the region’s first zone)', () => {
    expect(chooseZone(base())).toEqual({ zone: 'eu-west-1b' });
  });

  test('a redeploy keeps the zone chosen before while it still offers the type', () => {
    expect(chooseZone(base({ currentZone: 'eu-west-1c' }))).toEqual({ zone: 'eu-west-1c' });
    // It no longer does (e.g. the type was changed): a zone that does.
    expect(chooseZone(base({ currentZone: 'eu-west-1a' }))).toEqual({ zone: 'eu-west-1b' });
  });

  test('a zone that is not available is skipped', () => {
    expect(chooseZone(base({ availableZones: ['eu-west-1a', 'eu-west-1c'] }))).toEqual({
      zone: 'eu-west-1c',
    });
  });

  test('-c availabilityZone pins the zone, and a pinned zone without the type says which zones have it', () => {
    expect(chooseZone(base({ pinnedZone: 'eu-west-1c', currentZone: 'eu-west-1b' }))).toEqual({
      zone: 'eu-west-1c',
    });
    expect(chooseZone(base({ pinnedZone: 'eu-west-1a' }))).toEqual({
      error:
        'g4dn.xlarge is not offered in eu-west-1a (-c availabilityZone); in eu-west-1 it is offered in ' +
        'eu-west-1b, eu-west-1c: pass one of these, or leave availabilityZone unset to have it chosen.',
    });
  });

  test('a type offered nowhere in the region: one line listing the types that are', () => {
    const input = base({
      instanceType: 'g6e.xlarge',
      offerings: [
        { instanceType: 'g4dn.xlarge', zone: 'eu-west-1b' },
        { instanceType: 'g4dn.xlarge', zone: 'eu-west-1a' },
        { instanceType: 'c7i.4xlarge', zone: 'eu-west-1c' },
      ],
    });
    const result = chooseZone(input);
    expect(result).toEqual({
      error:
        'g6e.xlarge is not offered in any Availability Zone of eu-west-1; offered there: g4dn.xlarge ' +
        '(eu-west-1a, eu-west-1b), c7i.4xlarge (eu-west-1c). Deploy with -c instanceType=<one of these>, or to another region.',
    });
    expect(chooseZone({ ...input, offerings: [] })).toEqual({
      error:
        'g6e.xlarge is not offered in any Availability Zone of eu-west-1; none of the supported types is ' +
        'offered there either: deploy to another region (e.g. us-east-1).',
    });
  });
});

test('rootVolumeRefusal: smaller than the AMI snapshot is refused with the size to use', () => {
  expect(rootVolumeRefusal(100, 75, 'ami-1')).toBeUndefined();
  expect(rootVolumeRefusal(75, 75, 'ami-1')).toBeUndefined();
  expect(rootVolumeRefusal(60, 75, 'ami-0dlami')).toBe(
    'rootVolumeGiB=60 is smaller than the root snapshot of the AMI ami-0dlami (75 GiB): deploy with -c rootVolumeGiB=75 or more.',
  );
});

describe('the placement custom resource', () => {
  const credentials = { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret' };
  const ec2 = new EC2Client({ region: 'eu-west-1', credentials });
  const ssm = new SSMClient({ region: 'eu-west-1', credentials });
  const ec2Mock = mockClient(ec2);
  const ssmMock = mockClient(ssm);
  let responses: { url: string; body: Record<string, unknown> }[];
  const handler = createPlacementHandler(
    () => ({ ec2, ssm, region: 'eu-west-1' }),
    async (url, body) => {
      responses.push({ url, body });
    },
    () => {},
  );
  const event = (
    type: 'Create' | 'Update' | 'Delete',
    props: Record<string, string> = {},
    physicalId = 'eu-west-1c',
  ): CloudFormationCustomResourceEvent =>
    ({
      RequestType: type,
      ServiceToken: 'arn:aws:lambda:eu-west-1:123456789012:function:placement',
      ResponseURL: 'https://cloudformation-custom-resource-response-euwest1.s3.amazonaws.com/signed',
      StackId: 'arn:aws:cloudformation:eu-west-1:123456789012:stack/BnnPynq/guid',
      RequestId: 'req-1',
      LogicalResourceId: 'Placement4CF18568',
      ResourceType: 'Custom::BnnPynqPlacement',
      ResourceProperties: {
        ServiceToken: 'arn:aws:lambda:eu-west-1:123456789012:function:placement',
        InstanceType: 'g4dn.xlarge',
        AmiParameter: AMI_PARAMETERS.gpu,
        RootVolumeGiB: '100',
        PinnedZone: '',
        ...props,
      },
      ...(type === 'Create' ? {} : { PhysicalResourceId: physicalId, OldResourceProperties: {} }),
    }) as CloudFormationCustomResourceEvent;

  beforeEach(() => {
    responses = [];
    ec2Mock.reset();
    ssmMock.reset();
    ec2Mock.on(DescribeInstanceTypeOfferingsCommand).resolves({
      InstanceTypeOfferings: [
        { InstanceType: 'g4dn.xlarge', LocationType: 'availability-zone', Location: 'eu-west-1c' },
        { InstanceType: 'g4dn.xlarge', LocationType: 'availability-zone', Location: 'eu-west-1b' },
      ],
    });
    ec2Mock.on(DescribeAvailabilityZonesCommand).resolves({
      AvailabilityZones: ZONES.map((ZoneName, i) => ({
        ZoneName,
        ZoneId: `euw1-az${i + 1}`,
        State: 'available',
        ZoneType: 'availability-zone',
        RegionName: 'eu-west-1',
      })),
    });
    ssmMock.on(GetParameterCommand).resolves({
      Parameter: { Name: AMI_PARAMETERS.gpu, Type: 'String', Value: 'ami-0123dlami', Version: 42 },
    });
    ec2Mock.on(DescribeImagesCommand).resolves({
      Images: [
        {
          ImageId: 'ami-0123dlami',
          RootDeviceName: '/dev/sda1',
          BlockDeviceMappings: [
            { DeviceName: '/dev/sda1', Ebs: { SnapshotId: 'snap-1', VolumeSize: 75, VolumeType: 'gp3' } },
            { DeviceName: '/dev/sdb', VirtualName: 'ephemeral0' },
          ],
        },
      ],
    });
  });

  test('Create: SUCCESS with the zone as physical id and the AMI it checked', async () => {
    await handler(event('Create'));
    expect(responses).toEqual([
      {
        url: 'https://cloudformation-custom-resource-response-euwest1.s3.amazonaws.com/signed',
        body: {
          Status: 'SUCCESS',
          StackId: 'arn:aws:cloudformation:eu-west-1:123456789012:stack/BnnPynq/guid',
          RequestId: 'req-1',
          LogicalResourceId: 'Placement4CF18568',
          PhysicalResourceId: 'eu-west-1b',
          Data: { Zone: 'eu-west-1b', ImageId: 'ami-0123dlami', SnapshotGiB: '75' },
        },
      },
    ]);
    // One offerings call covers the configured type and the alternatives.
    const [call] = ec2Mock.commandCalls(DescribeInstanceTypeOfferingsCommand);
    expect(call?.args[0].input.Filters?.[0]?.Values).toEqual(
      expect.arrayContaining(['g4dn.xlarge', 'g5.xlarge']),
    );
  });

  test('Update keeps the zone of the earlier deploy (no move), even if another would sort first', async () => {
    await handler(event('Update', { RootVolumeGiB: '200' }, 'eu-west-1c'));
    expect(responses[0]?.body).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: 'eu-west-1c' });
  });

  test('a root volume smaller than the AMI snapshot: FAILED with the one line', async () => {
    await handler(event('Create', { RootVolumeGiB: '60' }));
    expect(responses[0]?.body).toMatchObject({
      Status: 'FAILED',
      PhysicalResourceId: 'placement-failed',
      Reason:
        'rootVolumeGiB=60 is smaller than the root snapshot of the AMI ami-0123dlami (75 GiB): deploy with -c rootVolumeGiB=75 or more.',
    });
  });

  test('a type offered nowhere: FAILED naming what would work; an SDK error: FAILED with its message', async () => {
    ec2Mock.on(DescribeInstanceTypeOfferingsCommand).resolves({
      InstanceTypeOfferings: [
        { InstanceType: 'c7i.4xlarge', LocationType: 'availability-zone', Location: 'eu-west-1a' },
      ],
    });
    await handler(event('Create'));
    expect(responses[0]?.body.Status).toBe('FAILED');
    expect(responses[0]?.body.Reason).toBe(
      'g4dn.xlarge is not offered in any Availability Zone of eu-west-1; offered there: c7i.4xlarge (eu-west-1a). ' +
        'Deploy with -c instanceType=<one of these>, or to another region.',
    );
    ssmMock.on(GetParameterCommand).rejects(
      Object.assign(new Error('User is not authorized to perform: ssm:GetParameter'), {
        name: 'AccessDeniedException',
        $metadata: { httpStatusCode: 400 },
      }),
    );
    await handler(event('Update', {}, 'eu-west-1b'));
    expect(responses[1]?.body).toMatchObject({
      Status: 'FAILED',
      PhysicalResourceId: 'eu-west-1b', // an update that fails keeps its old id
      Reason: 'User is not authorized to perform: ssm:GetParameter',
    });
  });

  test('Delete: SUCCESS, no AWS call', async () => {
    await handler(event('Delete', {}, 'eu-west-1b'));
    expect(responses[0]?.body).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: 'eu-west-1b' });
    expect(ec2Mock.calls()).toHaveLength(0);
    expect(ssmMock.calls()).toHaveLength(0);
  });
});

test('the answer reaches the pre-signed URL as CloudFormation requires: PUT, JSON body, no content type', async () => {
  const seen: { method?: string; type?: string; length?: string; body: string }[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => {
      body += d;
    });
    req.on('end', () => {
      seen.push({
        method: req.method,
        type: req.headers['content-type'],
        length: req.headers['content-length'],
        body,
      });
      res.statusCode = seen.length === 1 ? 200 : 403;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/cfn-response?X-Amz-Signature=abc`;
  try {
    const body = { Status: 'SUCCESS', PhysicalResourceId: 'eu-west-1b', Data: { Zone: 'eu-west-1b' } };
    await putResponse(url, body);
    expect(seen).toEqual([
      {
        method: 'PUT',
        type: '',
        length: String(Buffer.byteLength(JSON.stringify(body))),
        body: JSON.stringify(body),
      },
    ]);
    // A refused upload (expired URL) is an error, not a silent success.
    await expect(putResponse(url, body)).rejects.toThrow('CloudFormation response PUT failed: HTTP 403');
  } finally {
    server.close();
  }
});
