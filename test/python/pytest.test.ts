import { spawnSync } from 'node:child_process';
import { REPO_ROOT } from '../support/cli';

// The Python parts that do not need Theano (idx loading, the board rule, npz layout, checkpoints, progress, CLI
// exit codes) are tested with pytest under Debian's python3; this runs them as part of `npm test`.
test('pytest test/python passes under /usr/bin/python3', () => {
  const r = spawnSync('/usr/bin/python3', ['-m', 'pytest', 'test/python', '-q', '-p', 'no:cacheprovider'], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
  });
  if (r.status !== 0) console.error(r.stdout, r.stderr);
  expect(r.stdout).toMatch(/\d+ passed/);
  expect(r.stdout).not.toMatch(/failed|error/);
  expect(r.status).toBe(0);
}, 600_000);
