import { GetLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import {
  DescribeInstanceInformationCommand,
  GetAutomationExecutionCommand,
  GetCommandInvocationCommand,
  GetParameterCommand,
  SendCommandCommand,
  StartAutomationExecutionCommand,
} from '@aws-sdk/client-ssm';
import { runConvertRun } from '../../lib/cli/commands/convert-run';
import { runLogs } from '../../lib/cli/commands/logs';
import { runRuns } from '../../lib/cli/commands/runs';
import { runStatus } from '../../lib/cli/commands/status';
import { followRun, runTrain } from '../../lib/cli/commands/train';
import { discoverStack } from '../../lib/cloud/discovery';
import { at } from '../../lib/defined';
import { discoveryParameter, RUN_ID_PATTERN } from '../../lib/layout';
import { buildManifest } from '../../lib/manifest';
import {
  LAMBDA_TIMEOUT,
  REFUSED,
  REFUSED_UNDER_OLD_DOCUMENT,
  STEP_TIMEOUT,
  SUCCESS,
  UNHANDLED,
} from '../conversion/automation-fixtures';
import { progressLines, verifyJson } from '../report/fixtures';
import { type LocalS3, startLocalS3 } from '../support/s3-server';
import { awsError, DISCOVERED, INSTANCE, mockedCloud, STACK } from './support';

// Run records live in the loopback S3 server (real objects, real listing); SSM/EC2/Logs are mocked.
const ART = DISCOVERED['artifact-bucket'];
const DATA = DISCOVERED['dataset-bucket'];
let s3: LocalS3;
beforeAll(async () => {
  s3 = await startLocalS3([ART, DATA]);
});
afterAll(() => s3.stop());

let n = 0;
/** A fresh run id per test, so tests do not see each other's runs except where they list. */
const runId = (day = 26) => `202611${day}-0${(n++).toString().padStart(5, '0')}-fashion-mnist-a1b2`;
const put = (key: string, body: string, bucket = ART) =>
  s3.client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));

const running = {
  Reservations: [{ Instances: [{ InstanceId: INSTANCE, State: { Name: 'running' as const } }] }],
};
function readyInstance(mocks: ReturnType<typeof mockedCloud>['mocks']) {
  mocks.ec2.on(DescribeInstancesCommand).resolves(running);
  mocks.ssm
    .on(DescribeInstanceInformationCommand)
    .resolves({ InstanceInformationList: [{ PingStatus: 'Online' as const }] });
  mocks.ssm
    .on(GetParameterCommand)
    .resolves({ Parameter: { Name: discoveryParameter(STACK, 'bootstrap-state'), Value: 'ready: gpu' } });
}

describe('train', () => {
  test('sends the train document with only the parameters given, waits for it, prints the run id', async () => {
    const { env, mocks, term } = mockedCloud({ s3: s3.client });
    readyInstance(mocks);
    mocks.ssm.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-1' } });
    mocks.ssm
      .on(GetCommandInvocationCommand)
      .rejectsOnce(awsError('InvocationDoesNotExist', ''))
      .resolvesOnce({ Status: 'InProgress' })
      .resolves({ Status: 'Success', StandardOutputContent: 'started run x\nx\n' });
    const id = await runTrain(env, { dataset: 'fashion-mnist', epochs: 3, wb: 1, ab: 1, limitTrain: 2000 });
    expect(id).toMatch(RUN_ID_PATTERN);
    expect(id).toMatch(/^20261126-070000-fashion-mnist-[0-9a-f]{4}$/);
    const input = at(mocks.ssm.commandCalls(SendCommandCommand), 0, 'the SendCommand calls').args[0].input;
    expect(input).toMatchObject({
      DocumentName: DISCOVERED['train-document'],
      InstanceIds: [INSTANCE],
      CloudWatchOutputConfig: {
        CloudWatchOutputEnabled: true,
        CloudWatchLogGroupName: DISCOVERED['log-group'],
      },
    });
    expect(input.Parameters).toEqual({
      runId: [id],
      dataset: ['fashion-mnist'],
      epochs: ['3'],
      weightBits: ['1'],
      activationBits: ['1'],
      limitTrain: ['2000'],
    });
    expect(term.stdout).toBe(`${id}\n`);
    expect(term.stderr).toContain(`bnn-pynq watch ${id}`);
    expect(term.stderr).toContain('the instance stops itself when the run ends');
  });

  test('agent offline: SendCommand InvalidInstanceId becomes one line with what to do', async () => {
    const { env, mocks } = mockedCloud({ s3: s3.client });
    readyInstance(mocks);
    mocks.ssm
      .on(SendCommandCommand)
      .rejects(awsError('InvalidInstanceId', 'Instances [[i-0123]] not in a valid state'));
    await expect(runTrain(env, { dataset: 'fashion-mnist' })).rejects.toThrow(
      `the SSM agent on instance ${INSTANCE} is not online (instance stopped, still booting, or agent down): run \`bnn-pynq start\` and retry; \`bnn-pynq status\` shows what it is waiting for`,
    );
  });

  test("the document's own refusal (its stderr) reaches the user", async () => {
    const { env, mocks } = mockedCloud({ s3: s3.client });
    readyInstance(mocks);
    mocks.ssm.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-2' } });
    mocks.ssm.on(GetCommandInvocationCommand).resolves({
      Status: 'Failed',
      StandardErrorContent:
        'error: run 20261126-1 is still in progress on this instance; wait for it to end\n',
    });
    await expect(runTrain(env, { dataset: 'fashion-mnist', keepRunning: true })).rejects.toThrow(
      /^the train command Failed on i-0123456789abcdef0: error: run 20261126-1 is still in progress on this instance; wait for it to end; read `bnn-pynq logs /,
    );
    expect(mocks.ssm.commandCalls(SendCommandCommand)[0]?.args[0].input.Parameters?.keepRunning).toEqual([
      'true',
    ]);
  });

  test('an uploaded dataset must exist before the instance is touched; a bad name is refused', async () => {
    const { env, mocks } = mockedCloud({ s3: s3.client });
    await expect(runTrain(env, { dataset: 'my-shoes' })).rejects.toThrow(
      `dataset my-shoes is not in s3://${DATA}/datasets/my-shoes/: upload it with \`bnn-pynq dataset import <folder> --name my-shoes --upload\``,
    );
    expect(mocks.ec2.commandCalls(DescribeInstancesCommand)).toHaveLength(0);
    await expect(runTrain(env, { dataset: 'My Shoes' })).rejects.toThrow(
      '--dataset "My Shoes" is not a dataset name',
    );
  });

  test('--follow shows each epoch until the run succeeds', async () => {
    const { env, mocks, term, clock } = mockedCloud({ s3: s3.client });
    readyInstance(mocks);
    mocks.ssm.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-3' } });
    mocks.ssm.on(GetCommandInvocationCommand).resolves({ Status: 'Success' });
    const lines = progressLines(3, 3);
    let id = '';
    // Every sleep of the follow loop, the "instance" finishes one more epoch.
    const sleep = clock.sleep;
    let epoch = 0;
    clock.sleep = async (ms: number) => {
      await sleep(ms);
      id = mocks.ssm.commandCalls(SendCommandCommand)[0]?.args[0].input.Parameters?.runId?.[0] ?? '';
      if (!id) return;
      epoch++;
      await put(`runs/${id}/run.json`, JSON.stringify({ runId: id, dataset: 'fashion-mnist', epochs: 3 }));
      await put(`runs/${id}/progress.jsonl`, `${lines.slice(0, Math.min(epoch, 3)).join('\n')}\n`);
      await put(`runs/${id}/state.json`, JSON.stringify({ state: epoch > 3 ? 'succeeded' : 'running' }));
    };
    env.clock = clock;
    await runTrain(env, { dataset: 'fashion-mnist', epochs: 3, follow: true });
    const epochLines = term.stderr.split('\n').filter((l) => l.startsWith('epoch '));
    expect(epochLines.map((l) => l.split(',')[0])).toEqual(['epoch 1/3', 'epoch 2/3', 'epoch 3/3']);
    const last = JSON.parse(at(lines, 2, 'the progress lines'));
    expect(epochLines[2]).toContain(
      `valid err ${last.val_error_board.toFixed(2)} % board / ${last.val_error_argmax.toFixed(2)} % argmax`,
    );
    expect(term.stderr).toContain(`done: epoch 3/3`);
    expect(term.stderr).toContain(`bnn-pynq fetch --run ${id}`);
  });

  test('--follow stops with a clear line when the run fails or the instance stops', async () => {
    const { env, mocks } = mockedCloud({ s3: s3.client });
    const id = runId();
    await put(`runs/${id}/run.json`, JSON.stringify({ runId: id, dataset: 'fashion-mnist', epochs: 3 }));
    await put(
      `runs/${id}/state.json`,
      JSON.stringify({ state: 'failed', message: 'bnn_train exited 1 on attempt 3 of 3' }),
    );
    const resources = await discoverStack(env.clients, STACK, undefined);
    await expect(followRun(env, resources, id)).rejects.toThrow(
      `run ${id} failed: bnn_train exited 1 on attempt 3 of 3; read \`bnn-pynq logs ${id}\``,
    );
    const id2 = runId();
    await put(`runs/${id2}/state.json`, JSON.stringify({ state: 'running' }));
    mocks.ec2
      .on(DescribeInstancesCommand)
      .resolves({ Reservations: [{ Instances: [{ State: { Name: 'stopped' as const } }] }] });
    await expect(followRun(env, resources, id2)).rejects.toThrow(
      `instance ${INSTANCE} is stopped while run ${id2} is unfinished (spot interruption or idle alarm?): \`bnn-pynq start\` resumes it from its last checkpoint`,
    );
  });
});

describe('logs', () => {
  test('prints the CloudWatch stream page by page', async () => {
    const { env, mocks, term } = mockedCloud({ s3: s3.client });
    const id = runId();
    mocks.logs
      .on(GetLogEventsCommand)
      .resolvesOnce({ events: [{ timestamp: 1, message: 'line 1\n' }], nextForwardToken: 'f/1' })
      .resolvesOnce({ events: [{ timestamp: 2, message: 'line 2' }], nextForwardToken: 'f/2' })
      .resolves({ events: [], nextForwardToken: 'f/2' });
    await runLogs(env, id, {});
    expect(term.stdout).toBe('line 1\nline 2\n');
    const first = at(mocks.logs.commandCalls(GetLogEventsCommand), 0, 'the GetLogEvents calls').args[0].input;
    expect(first).toMatchObject({
      logGroupName: DISCOVERED['log-group'],
      logStreamName: `runs/${id}`,
      startFromHead: true,
    });
  });

  test('-f follows until the run has ended and nothing new arrives', async () => {
    const { env, mocks, term } = mockedCloud({ s3: s3.client });
    const id = runId();
    await put(`runs/${id}/state.json`, JSON.stringify({ state: 'running' }));
    let calls = 0;
    mocks.logs.on(GetLogEventsCommand).callsFake(async () => {
      calls++;
      if (calls === 3) await put(`runs/${id}/state.json`, JSON.stringify({ state: 'succeeded' }));
      if (calls === 1 || calls === 4)
        return { events: [{ timestamp: calls, message: `m${calls}` }], nextForwardToken: `t${calls}` };
      return { events: [], nextForwardToken: `t${calls - 1}` };
    });
    await runLogs(env, id, { follow: true });
    expect(term.stdout).toBe('m1\nm4\n');
  });

  test('no stream: prints the S3 copy; neither: the run is not found', async () => {
    const { env, mocks, term } = mockedCloud({ s3: s3.client });
    mocks.logs
      .on(GetLogEventsCommand)
      .rejects(awsError('ResourceNotFoundException', 'The specified log stream does not exist.'));
    const id = runId();
    await put(`runs/${id}/train.log`, 'epoch 1 done\n');
    await runLogs(env, id, {});
    expect(term.stdout).toBe('epoch 1 done\n');
    expect(term.stderr).toContain(`reading s3://${ART}/runs/${id}/train.log`);
    const missing = runId();
    await expect(runLogs(env, missing, {})).rejects.toThrow(
      `run ${missing} not found in s3://${ART}/runs/: list runs with \`bnn-pynq runs\` (wrong --stack or --region?)`,
    );
    await expect(runLogs(env, 'Not A Run', {})).rejects.toThrow('"Not A Run" is not a run id');
  });
});

test('logs -f without a CloudWatch stream follows train.log in S3, printing only what was appended', async () => {
  const { env, mocks, term, clock } = mockedCloud({ s3: s3.client });
  mocks.logs.on(GetLogEventsCommand).rejects(awsError('ResourceNotFoundException', 'no stream'));
  const id = runId();
  await put(`runs/${id}/state.json`, JSON.stringify({ state: 'running' }));
  await put(`runs/${id}/train.log`, 'epoch 1\n');
  const sleep = clock.sleep;
  let polls = 0;
  clock.sleep = async (ms: number) => {
    await sleep(ms);
    polls++;
    if (polls === 1) await put(`runs/${id}/train.log`, 'epoch 1\nepoch 2\n');
    if (polls === 2) {
      await put(`runs/${id}/train.log`, 'epoch 1\nepoch 2\ndone');
      await put(`runs/${id}/state.json`, JSON.stringify({ state: 'succeeded' }));
    }
  };
  await runLogs(env, id, { follow: true });
  expect(term.stdout).toBe('epoch 1\nepoch 2\ndone\n');
  const empty = runId();
  await put(`runs/${empty}/state.json`, JSON.stringify({ state: 'starting' }));
  await expect(runLogs(env, empty, {})).rejects.toThrow(
    `run ${empty} has no log yet (no stream runs/${empty} in ${DISCOVERED['log-group']}, no runs/${empty}/train.log): retry in a minute, or use -f to wait`,
  );
});

test('logs --bootstrap reads the instance stream; a missing one says the instance has not booted', async () => {
  const { env, mocks, term } = mockedCloud({ s3: s3.client });
  mocks.logs
    .on(GetLogEventsCommand, { logStreamName: `bootstrap/${INSTANCE}` })
    .resolvesOnce({
      events: [{ timestamp: Date.UTC(2026, 10, 26, 6), message: 'step pip-install: ok' }],
      nextForwardToken: 'a',
    })
    .resolves({ events: [], nextForwardToken: 'a' });
  await runLogs(env, undefined, { bootstrap: true, timestamps: true });
  expect(term.stdout).toBe('2026-11-26T06:00:00.000Z step pip-install: ok\n');
  mocks.logs.reset();
  mocks.logs.on(GetLogEventsCommand).rejects(awsError('ResourceNotFoundException', 'no stream'));
  await expect(runLogs(env, undefined, { bootstrap: true })).rejects.toThrow(
    `no bootstrap log for ${INSTANCE} in ${DISCOVERED['log-group']} yet: the instance may not have booted since deploy (\`bnn-pynq status\`)`,
  );
  await expect(runLogs(env, undefined, {})).rejects.toThrow('name a run (`bnn-pynq logs <runId>`');
});

describe('convert-run', () => {
  test('starts the automation with the run and its dataset, waits, prints the verify summary', async () => {
    const { env, mocks, term } = mockedCloud({ s3: s3.client });
    const id = runId();
    await put(`runs/${id}/run.json`, JSON.stringify({ runId: id, dataset: 'fashion-mnist', epochs: 40 }));
    await put(`runs/${id}/model.npz`, 'npz');
    mocks.ssm.on(StartAutomationExecutionCommand).resolves({ AutomationExecutionId: 'auto-1' });
    mocks.ssm
      .on(GetAutomationExecutionCommand)
      .resolvesOnce({ AutomationExecution: { AutomationExecutionStatus: 'InProgress' } })
      .callsFake(async () => {
        await put(`runs/${id}/verify.json`, verifyJson(id));
        return { AutomationExecution: SUCCESS };
      });
    await runConvertRun(env, id, {});
    expect(mocks.ssm.commandCalls(StartAutomationExecutionCommand)[0]?.args[0].input).toEqual({
      DocumentName: DISCOVERED['convert-document'],
      Parameters: {
        runId: [id],
        dataset: ['fashion-mnist'],
        network: [''] /* the automation takes it from run.json */,
        publish: ['true'],
      },
    });
    expect(term.stdout).toBe(
      [
        'board accuracy 83.81 % (8381/10000)',
        'float model, argmax 84.65 %',
        'params agree with the float model (board rule) on 99.99 % of images',
        'weakest classes: Shirt 56.0 %, Pullover 74.0 %, Coat 76.0 %',
        'no output bit fired on 530 images (5.30 %): the board reads them as class 0',
        'publish: published',
        '',
      ].join('\n'),
    );
    expect(term.stderr).toContain('bnn-pynq fetch --dataset fashion-mnist');
  });

  test('a failed automation: its step and message, and that nothing was published', async () => {
    const { env, mocks } = mockedCloud({ s3: s3.client });
    const id = runId();
    await put(`runs/${id}/model.npz`, 'npz');
    mocks.ssm.on(StartAutomationExecutionCommand).resolves({ AutomationExecutionId: 'auto-2' });
    mocks.ssm.on(GetAutomationExecutionCommand).resolves({
      AutomationExecution: {
        AutomationExecutionStatus: 'Failed',
        StepExecutions: [
          {
            StepName: 'convert',
            StepStatus: 'Failed',
            FailureMessage: 'board accuracy 31.2 % is below the floor 50 %',
          },
        ],
      },
    });
    await expect(runConvertRun(env, id, { publish: false })).rejects.toThrow(
      `conversion of ${id} Failed at step convert: board accuracy 31.2 % is below the floor 50 %; nothing was published`,
    );
    expect(
      mocks.ssm.commandCalls(StartAutomationExecutionCommand)[0]?.args[0].input.Parameters,
    ).toMatchObject({
      dataset: [''],
      publish: ['false'],
    });
  });

  test('a refusal prints the refusal and fails, even when the execution status says Success', async () => {
    for (const execution of [REFUSED, REFUSED_UNDER_OLD_DOCUMENT]) {
      const { env, mocks, term } = mockedCloud({ s3: s3.client });
      const id = runId();
      await put(`runs/${id}/model.npz`, 'npz');
      mocks.ssm.on(StartAutomationExecutionCommand).resolves({ AutomationExecutionId: 'auto-3' });
      mocks.ssm.on(GetAutomationExecutionCommand).resolves({ AutomationExecution: execution });
      const err = (await runConvertRun(env, id, {}).then(
        () => new Error('converted'),
        (e: Error) => e,
      )) as Error & { exitCode?: number };
      expect(err.message).toMatch(
        /^conversion of \S+ refused: params of run .* verify at 31\.20 % on the mnist test set, below the floor of 50 %: refused to publish\. The previous published params are untouched; nothing was published$/,
      );
      expect(err.exitCode).toBe(3);
      expect(term.stdout).toBe('');
      expect(term.stderr).not.toContain('published to');
    }
  });

  test('a Lambda crash and a timeout are named as such', async () => {
    const cases: Array<[typeof UNHANDLED, RegExp]> = [
      [
        UNHANDLED,
        /^conversion of \S+ failed in the Lambda \(TypeError: Cannot read properties of undefined \(reading 'shape'\)\); details: `aws ssm get-automation-execution --automation-execution-id auto-4`; nothing was published$/,
      ],
      [
        LAMBDA_TIMEOUT,
        /^conversion of \S+ timed out: the Lambda timed out \(RequestId: .* Task timed out after 240\.00 seconds\); nothing was published$/,
      ],
      [
        STEP_TIMEOUT,
        /^conversion of \S+ timed out: step convert timed out \(Step timed out while step is verifying the Lambda function response\.\); nothing was published$/,
      ],
    ];
    for (const [execution, message] of cases) {
      const { env, mocks } = mockedCloud({ s3: s3.client });
      const id = runId();
      await put(`runs/${id}/model.npz`, 'npz');
      mocks.ssm.on(StartAutomationExecutionCommand).resolves({ AutomationExecutionId: 'auto-4' });
      mocks.ssm.on(GetAutomationExecutionCommand).resolves({ AutomationExecution: execution });
      await expect(runConvertRun(env, id, {})).rejects.toThrow(message);
    }
  });

  test('a run without model.npz is not converted', async () => {
    const { env, mocks } = mockedCloud({ s3: s3.client });
    const id = runId();
    await put(`runs/${id}/state.json`, JSON.stringify({ state: 'running' }));
    await expect(runConvertRun(env, id, {})).rejects.toThrow(
      `run ${id} has no model.npz yet (state: running): wait for it to finish (\`bnn-pynq watch ${id}\`)`,
    );
    expect(mocks.ssm.commandCalls(StartAutomationExecutionCommand)).toHaveLength(0);
    await expect(runConvertRun(env, runId(), {})).rejects.toThrow(/not found in s3:/);
  });
});

describe('runs and status', () => {
  test('runs: newest first, with epochs, best validation error, test error, state and params', async () => {
    // Later days than any other test's run ids, so these two are the newest.
    const done = runId(29);
    const live = runId(30);
    await put(`runs/${done}/run.json`, JSON.stringify({ runId: done, dataset: 'fashion-mnist', epochs: 5 }));
    await put(`runs/${done}/progress.jsonl`, progressLines(5).join('\n'));
    await put(`runs/${done}/state.json`, JSON.stringify({ state: 'succeeded' }));
    await put(`runs/${done}/verify.json`, verifyJson(done));
    const manifest = buildManifest(new Map([['classes.txt', Buffer.from('a\nb')]]), {
      runId: done,
      dataset: 'fashion-mnist',
      network: 'lfcW1A1',
      accuracy: 83.81,
      createdAt: '2026-11-26T06:00:00.000Z',
    });
    await put('params/fashion-mnist/lfcW1A1/manifest.json', JSON.stringify(manifest));
    // a second overlay published beside it (params/<dataset>/<network>/): listed too
    const cnvManifest = buildManifest(new Map([['classes.txt', Buffer.from('a\nb')]]), {
      runId: done,
      dataset: 'cifar10',
      network: 'cnvW1A1',
      accuracy: 79.22,
      createdAt: '2026-11-26T06:00:00.000Z',
    });
    await put('params/cifar10/cnvW1A1/manifest.json', JSON.stringify(cnvManifest));
    await put(`runs/${live}/run.json`, JSON.stringify({ runId: live, dataset: 'fashion-mnist', epochs: 40 }));
    await put(`runs/${live}/progress.jsonl`, progressLines(2, 40).join('\n'));
    await put(`runs/${live}/state.json`, JSON.stringify({ state: 'running' }));

    const { env, term } = mockedCloud({ s3: s3.client });
    await runRuns(env, { limit: 2 });
    const best = (lines: string[]) => Math.min(...lines.map((l) => JSON.parse(l).val_error_board)).toFixed(2);
    const rows = term.stdout.trimEnd().split('\n');
    expect(rows[0]?.split(/\s{2,}/)).toEqual([
      'run',
      'dataset',
      'network',
      'epochs',
      'best valid err',
      'test err',
      'state',
      'params published',
      'sweep',
    ]);
    expect(rows[2]?.split(/\s{2,}/)).toEqual([
      live,
      'fashion-mnist',
      'lfcW1A1',
      '2/40',
      `${best(progressLines(2, 40))} %`,
      `${JSON.parse(at(progressLines(2, 40), 1, 'the progress lines')).test_error_board.toFixed(2)} %`,
      'running',
      '-',
      '-',
    ]);
    expect(rows[3]?.split(/\s{2,}/)).toEqual([
      done,
      'fashion-mnist',
      'lfcW1A1',
      '5/5',
      `${best(progressLines(5))} %`,
      '16.19 % (verified)',
      'succeeded',
      'yes (current)',
      '-',
    ]);

    const st = mockedCloud({ s3: s3.client });
    st.mocks.ec2.on(DescribeInstancesCommand).resolves({
      Reservations: [
        {
          Instances: [
            {
              InstanceId: INSTANCE,
              InstanceType: 'g4dn.xlarge' as const,
              State: { Name: 'running' as const },
            },
          ],
        },
      ],
    });
    st.mocks.ssm
      .on(DescribeInstanceInformationCommand)
      .resolves({ InstanceInformationList: [{ PingStatus: 'Online' as const }] });
    await runStatus(st.env);
    // A stopped instance with a failed bootstrap: the step is named.
    const stopped = mockedCloud({
      s3: s3.client,
      discovery: { 'bootstrap-state': 'failed: install-cuda-runtime' },
    });
    stopped.mocks.ec2.on(DescribeInstancesCommand).resolves({
      Reservations: [{ Instances: [{ InstanceId: INSTANCE, State: { Name: 'stopped' as const } }] }],
    });
    await runStatus(stopped.env);
    expect(stopped.term.stdout).toContain(`instance:   ${INSTANCE} on-demand: stopped\n`);
    expect(stopped.term.stdout).toContain(
      'bootstrap:  failed at step "install-cuda-runtime" (see `bnn-pynq logs --bootstrap`)',
    );
    expect(stopped.mocks.ssm.commandCalls(DescribeInstanceInformationCommand)).toHaveLength(0);
    const out = st.term.stdout;
    expect(out).toContain(`instance:   ${INSTANCE} g4dn.xlarge on-demand: running, SSM agent Online`);
    expect(out).toContain('bootstrap:  ready: gpu');
    expect(out).toMatch(
      new RegExp(
        `run:        ${live} running: epoch 2/40, valid err .* board / .* argmax, best .* @\\d, test err .*, ETA 6m\\d\\ds`,
      ),
    );
    expect(out).toContain(
      `params:     fashion-mnist/lfcW1A1: run ${done}, board accuracy 83.81 %, published 1h00m ago`,
    );
    expect(out).toContain(`cifar10/cnvW1A1: run ${done}, board accuracy 79.22 %, published 1h00m ago`);
  });
});
