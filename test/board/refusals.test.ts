import { existsSync, readdirSync, rmSync, truncateSync } from 'node:fs';
import path from 'node:path';
import { runCli } from '../support/cli';
import { boardCli, copyOfMnistParams, MNIST_PARAMS } from './support/helpers';
import { type StandInBoard, startStandInBoard } from './support/standin-board';

jest.setTimeout(600_000); // ssh sessions on a shared, loaded 2-core machine

/** Every refusal is exactly one `error:` line, a non-zero exit, and nothing on stdout that claims success. */
function expectOneLine(r: { status: number; stdout: string; stderr: string }, pattern: RegExp): void {
  expect(r.status).not.toBe(0);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(/^error: /);
  expect(r.stderr).toMatch(pattern);
  expect(r.stdout).not.toMatch(/^installed /m);
}

describe('board refusals over ssh: one line with the fix', () => {
  let board: StandInBoard;
  beforeAll(async () => {
    board = await startStandInBoard();
  });
  afterAll(async () => {
    await board?.stop();
  });

  test('host unreachable', async () => {
    const r = await boardCli(board, 'check', board.downHost);
    expectOneLine(
      r,
      /^error: board root@board-down is unreachable \(ssh: connect to host 127\.0\.0\.1 port \d+: Connection refused\); check the board is powered and on the network \(ping board-down\), and the address and --port\n$/,
    );
  });

  test('host name that does not resolve', async () => {
    const r = await runCli([
      'board',
      'check',
      'no-such-board.invalid',
      '--user',
      'xilinx',
      '--ssh-config',
      board.sshConfig,
    ]);
    expectOneLine(r, /cannot resolve the name no-such-board\.invalid; use the board's IP address/);
  });

  test('authentication refused', async () => {
    const r = await boardCli(board, 'push', board.strangerHost, ['--params', MNIST_PARAMS]);
    expectOneLine(
      r,
      /^error: board root@board-stranger refused the login \(root@127\.0\.0\.1: Permission denied \(publickey\)\.\); check --user \(PYNQ's is xilinx\), install your key with `ssh-copy-id root@board-stranger`, or pass --identity <key>\n$/,
    );
    expect(readdirSync(board.paramsDir)).toEqual([]);
  });
});

describe('board refusals from the board itself', () => {
  test('no bnn package: check and push each say so, with the install command', async () => {
    const board = await startStandInBoard({ bnn: false });
    try {
      const check = await boardCli(board, 'check', board.host);
      expect(check.stdout).toContain('bnn         not installed');
      expectOneLine(
        check,
        /^error: board root@board: \/usr\/bin\/python3 on the board cannot import the bnn package \(BNN-PYNQ is not installed for it\); install BNN-PYNQ on the board \(`sudo pip3 install git\+https:\/\/github\.com\/Xilinx\/BNN-PYNQ\.git`\), or pass --python the interpreter that has it\n$/,
      );
      const push = await boardCli(board, 'push', board.host, ['--params', MNIST_PARAMS]);
      expectOneLine(push, /cannot import the bnn package .*; install BNN-PYNQ on the board/);
    } finally {
      await board.stop();
    }
  });

  test('params folder not writable (board user is not root) without --sudo; --sudo refused when sudo wants a password', async () => {
    // Sessions run as nobody (uid 65534), like PYNQ's xilinx user facing the root-owned package folder.
    const board = await startStandInBoard({ unprivileged: true });
    try {
      const check = await boardCli(board, 'check', board.host);
      expect(check.stdout).toContain('writable    no');
      expectOneLine(
        check,
        new RegExp(
          `^error: board root@board: ${board.paramsDir} is not writable for nobody; use --sudo \\(needs passwordless sudo\\), or on the board: sudo chown -R nobody ${board.paramsDir}\\n$`,
        ),
      );
      const push = await boardCli(board, 'push', board.host, ['--params', MNIST_PARAMS]);
      expectOneLine(
        push,
        new RegExp(
          `^error: board root@board: ${board.paramsDir} is not writable for nobody; rerun with --sudo \\(needs passwordless sudo for root\\), or on the board: sudo chown -R root ${board.paramsDir}\\n$`,
        ),
      );
      const sudo = await boardCli(board, 'push', board.host, ['--params', MNIST_PARAMS, '--sudo']);
      expectOneLine(
        sudo,
        /^error: board root@board: `sudo -n` was refused \(sudo: a password is required\); --sudo needs passwordless sudo/,
      );
      expect(readdirSync(board.paramsDir)).toEqual([]);
    } finally {
      await board.stop();
    }
  });
});

describe('local refusals, before any connection', () => {
  // An address that would hang if we tried to connect: these must fail before ssh runs.
  const host = ['192.0.2.1', '--user', 'xilinx'];

  test('incomplete folder', async () => {
    const dir = copyOfMnistParams();
    rmSync(path.join(dir, '3-15-thres.bin'));
    const r = await runCli(['board', 'push', ...host, '--params', dir]);
    expectOneLine(
      r,
      new RegExp(
        `^error: ${dir}: incomplete lfcW1A1 param folder: 1 of 289 files missing \\(3-15-thres\\.bin\\); convert or fetch the set again\\n$`,
      ),
    );
  });

  test('short file', async () => {
    const dir = copyOfMnistParams();
    truncateSync(path.join(dir, '1-9-weights.bin'), 4000);
    const r = await runCli(['board', 'push', ...host, '--params', dir]);
    expectOneLine(
      r,
      new RegExp(
        `^error: ${dir}/1-9-weights\\.bin: 4000 bytes, an lfcW1A1 weights file of layer 1 has 4096: the file is truncated or from another network; convert or fetch the set again\\n$`,
      ),
    );
  });

  test('dataset name with a path separator (push and validate)', async () => {
    const push = await runCli(['board', 'push', ...host, '--params', MNIST_PARAMS, '--dataset', '../mnist']);
    expectOneLine(
      push,
      /^error: dataset name "\.\.\/mnist" contains a path separator; give the bare name \(e\.g\. fashion-mnist\): the set goes to <bnn>\/params\/<dataset>\/<network> on the board\n$/,
    );
    const validate = await runCli(['board', 'validate', ...host, '--dataset', 'a\\b']);
    expectOneLine(validate, /^error: dataset name "a\\\\b" contains a path separator/);
  });

  test('neither or both of --params and --run', async () => {
    const r = await runCli(['board', 'push', ...host]);
    expectOneLine(r, /give exactly one of --params <dir> \(a local folder\) or --run <id> \(from S3\)/);
    expect(existsSync(MNIST_PARAMS)).toBe(true);
  });
});
