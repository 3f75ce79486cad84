// Runs the CLI's real entry point (lib/cli/main.ts `main`, with its closed-pipe handling and the process's
// own stdout/stderr) for a command that follows a run: `watch <runId>`, `train --follow`, `logs <runId> -f`.
// AWS: SSM, EC2 and CloudWatch Logs mocked by class (aws-sdk-client-mock, so the clients the CLI builds
// itself answer), S3 the loopback server (BNN_PYNQ_S3_ENDPOINT). The run never ends: at every poll the
// "instance" finishes one more epoch (progress.jsonl in S3) and logs one more line. Polls are 20 ms apart
// instead of 15 s (the real clock's sleep, shortened). Usage: follow-into-pipe.ts <bnn-pynq args...>

import { CloudWatchLogsClient, GetLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { DescribeInstancesCommand, EC2Client } from '@aws-sdk/client-ec2';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import {
  DescribeInstanceInformationCommand,
  GetCommandInvocationCommand,
  GetParameterCommand,
  GetParametersByPathCommand,
  SendCommandCommand,
  SSMClient,
} from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { main } from '../../../lib/cli/main';
import { realClock } from '../../../lib/cloud/instance';
import { discoveryParameter } from '../../../lib/layout';
import { s3EndpointOptions } from '../../../lib/s3-endpoint';
import { DISCOVERED, INSTANCE, STACK } from '../../cloud/support';
import { progressLines } from '../../report/fixtures';

const args = process.argv.slice(2);
const ssm = mockClient(SSMClient);
ssm.on(GetParametersByPathCommand).resolves({
  Parameters: Object.entries(DISCOVERED).map(([k, v]) => ({
    Name: discoveryParameter(STACK, k as keyof typeof DISCOVERED),
    Value: v,
  })),
});
ssm
  .on(DescribeInstanceInformationCommand)
  .resolves({ InstanceInformationList: [{ PingStatus: 'Online' as const }] });
ssm
  .on(GetParameterCommand)
  .resolves({ Parameter: { Name: discoveryParameter(STACK, 'bootstrap-state'), Value: 'ready: gpu' } });
ssm.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-follow' } });
ssm.on(GetCommandInvocationCommand).resolves({ Status: 'Success' });
mockClient(EC2Client)
  .on(DescribeInstancesCommand)
  .resolves({
    Reservations: [{ Instances: [{ InstanceId: INSTANCE, State: { Name: 'running' as const } }] }],
  });

let epoch = 0;
const logLines: string[] = [];
let logsRead = 0;
mockClient(CloudWatchLogsClient)
  .on(GetLogEventsCommand)
  .callsFake(async () => {
    const events = logLines.slice(logsRead).map((message, i) => ({ timestamp: logsRead + i, message }));
    logsRead = logLines.length;
    return { events, nextForwardToken: `f/${logsRead}` };
  });

const s3 = new S3Client({ region: 'us-east-1', ...s3EndpointOptions(process.env.BNN_PYNQ_S3_ENDPOINT) });
const bucket = DISCOVERED['artifact-bucket'];
const runId = () =>
  args[0] === 'train'
    ? ssm.commandCalls(SendCommandCommand)[0]?.args[0].input.Parameters?.runId?.[0]
    : args[1];
const lines = progressLines(1000);

async function advance(): Promise<void> {
  const id = runId();
  if (!id) return;
  epoch++;
  const put = (name: string, body: string) =>
    s3.send(new PutObjectCommand({ Bucket: bucket, Key: `runs/${id}/${name}`, Body: body }));
  await put('run.json', JSON.stringify({ runId: id, dataset: 'fashion-mnist', epochs: 1000 }));
  await put('progress.jsonl', `${lines.slice(0, epoch).join('\n')}\n`);
  await put('state.json', JSON.stringify({ state: 'running' }));
  logLines.push(`epoch ${epoch} done`);
}

realClock.sleep = async () => {
  await new Promise((resolve) => setTimeout(resolve, 20));
  await advance();
};

process.on('exit', (code) => {
  // For the test: how far the "run" got before the command ended (on stderr's fd directly: it may be a pipe).
  require('node:fs').writeFileSync(process.env.FOLLOW_REPORT as string, `polls=${epoch} exit=${code}\n`);
});

advance().then(() => main(['node', 'bnn-pynq', ...args]));
