import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { pushParamSet } from '../../lib/board/board';
import { loadLocalParamSet } from '../../lib/param-folder/local';
import { boardCli, copyOfMnistParams, leftovers, MNIST_PARAMS, readFolder, waitFor } from './support/helpers';
import { type StandInBoard, startStandInBoard } from './support/standin-board';

jest.setTimeout(600_000); // ssh sessions on a shared, loaded 2-core machine

let board: StandInBoard;
beforeAll(async () => {
  // ~60 kB/s upstream: the 590 kB upload takes ~10 s, long enough to cut it in the middle.
  board = await startStandInBoard({ slowRate: 60_000 });
});
afterAll(async () => {
  await board?.stop();
});

test('the connection dropping mid-copy (sshd killed) leaves the live set as it was and nothing behind', async () => {
  // A live set to protect: the shipped one with other class names, so a half-new set would show.
  const old = copyOfMnistParams();
  await pushParamSet(
    { host: board.host, user: 'root', configFile: board.sshConfig, python: '/usr/bin/python3' },
    loadLocalParamSet(old),
    'mnist',
  );
  const live = path.join(board.paramsDir, 'mnist', 'lfcW1A1');
  const before = readFolder(live);

  const push = boardCli(board, 'push', board.slowHost, ['--params', MNIST_PARAMS]);
  // Wait until the board has written part of the upload into its temp folder, then cut the link.
  const staged = () => {
    const inc = readdirSync(board.paramsDir).find((n) => n.startsWith('.mnist.incoming-'));
    const dir = inc && path.join(board.paramsDir, inc, 'lfcW1A1');
    return dir && existsSync(dir) ? readdirSync(dir).length : 0;
  };
  await waitFor(() => staged() >= 40, 120_000, 'the upload to reach the board');
  expect(staged()).toBeLessThan(289);
  board.killSshd();

  const r = await push;
  expect(r.status).not.toBe(0);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(
    /^error: the connection to board root@board-slow dropped \(.+\); check the link and run the command again \(an interrupted upload never replaces the live set; its temporary folder is removed at once, or by the next push\)\n$/,
  );
  // The board-side helper sees its stdin end, removes the temp folder and exits.
  await waitFor(() => leftovers(board).length === 0, 20_000, 'the temp folder to be removed');
  expect(readFolder(live)).toEqual(before);
  expect(existsSync(path.join(board.paramsDir, 'mnist.previous'))).toBe(false);
});

test('a second push while one is uploading is refused and does not disturb the first', async () => {
  // The board of the test above lost its sshd; this one gets its own, with a link slow enough
  // (~40 s for the upload) that the second CLI (~10 s to start on a loaded machine) meets the first.
  const board = await startStandInBoard({ slowRate: 15_000 });
  try {
    const first = boardCli(board, 'push', board.slowHost, ['--params', MNIST_PARAMS]);
    const staged = () => readdirSync(board.paramsDir).some((n) => n.startsWith('.mnist.incoming-'));
    await waitFor(staged, 120_000, 'the first upload to start');
    const second = await boardCli(board, 'push', board.host, ['--params', MNIST_PARAMS]);
    expect(staged()).toBe(true); // the first one was still uploading
    expect(second.status).toBe(2);
    expect(second.stderr).toBe(
      `error: board root@board: another push to ${board.paramsDir} is running; wait for it to finish (or for its ssh session to end), then push again\n`,
    );
    const r = await first;
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(readFolder(path.join(board.paramsDir, 'mnist', 'lfcW1A1'))).toEqual(readFolder(MNIST_PARAMS));
    expect(leftovers(board)).toEqual([]);
  } finally {
    await board.stop();
  }
});
