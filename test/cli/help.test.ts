import { execFileSync } from 'node:child_process';
import path from 'node:path';

const bin = path.join(__dirname, '..', '..', 'bin', 'bnn-pynq.js');

test('bnn-pynq --help names the program and exits 0', () => {
  const out = execFileSync(process.execPath, [bin, '--help'], { encoding: 'utf8' });
  expect(out).toContain('Usage: bnn-pynq');
});

test('an unknown command exits non-zero with one clear line', () => {
  let status = 0;
  let stderr = '';
  try {
    execFileSync(process.execPath, [bin, 'no-such-command'], { encoding: 'utf8', stdio: 'pipe' });
  } catch (err) {
    const e = err as { status: number; stderr: string };
    status = e.status;
    stderr = e.stderr;
  }
  expect(status).not.toBe(0);
  expect(stderr).toMatch(/^error: /m);
});

test('--help lists every command, each module loaded once', () => {
  const out = execFileSync(process.execPath, [bin, '--help'], { encoding: 'utf8' });
  const { COMMAND_NAMES } = require('../../lib/cli/commands') as { COMMAND_NAMES: string[] };
  for (const name of COMMAND_NAMES) expect(out).toMatch(new RegExp(`^  ${name}\\b`, 'm'));
});

test('a command runs with only its own module loaded', () => {
  const { Command } = require('commander') as typeof import('commander');
  const { registerCommands } = require('../../lib/cli/commands') as typeof import('../../lib/cli/commands');
  const program = new Command('bnn-pynq');
  registerCommands(program, ['node', 'bnn-pynq', 'convert', 'm.npz']);
  expect(program.commands.map((c) => c.name())).toEqual(['convert']);
});
