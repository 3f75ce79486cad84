import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from '../support/cli';

// The bin runs the esbuild bundle only while it matches the sources. In a copy of the project (so the real
// checkout's bundle is left alone): the first start builds it; an edit to a source, or to package.json, is
// seen by the next start without any build command.
const copy = mkdtempSync(path.join(tmpdir(), 'cli-bundle-'));
beforeAll(() => {
  for (const p of ['bin', 'lib', 'scripts', 'package.json', 'cdk.json'])
    cpSync(path.join(REPO_ROOT, p), path.join(copy, p), { recursive: true });
  symlinkSync(path.join(REPO_ROOT, 'node_modules'), path.join(copy, 'node_modules'));
});

const fromBundle = { ...process.env };
delete fromBundle.BNN_PYNQ_FROM_SOURCES;
const cli = (...args: string[]) =>
  execFileSync(process.execPath, [path.join(copy, 'bin', 'bnn-pynq.js'), ...args], {
    encoding: 'utf8',
    env: fromBundle,
  });

test('the first start builds the bundle; an edited source or package.json is never run from a stale one', () => {
  expect(cli('--version')).toBe('0.1.0\n');
  expect(existsSync(path.join(copy, 'dist', 'cli', 'bnn-pynq.js'))).toBe(true);
  const bundled = readFileSync(path.join(copy, 'dist', 'cli', 'bnn-pynq.js'), 'utf8');
  expect(bundled).toContain('Train a binarized neural network');

  const pkg = path.join(copy, 'package.json');
  writeFileSync(pkg, readFileSync(pkg, 'utf8').replace('"version": "0.1.0"', '"version": "0.1.1"'));
  expect(cli('--version')).toBe('0.1.1\n');

  const main = path.join(copy, 'lib', 'cli', 'main.ts');
  writeFileSync(main, readFileSync(main, 'utf8').replace('Train a binarized', 'Train (edited) a binarized'));
  expect(cli('--help')).toContain('Train (edited) a binarized');
  // …and the rebuilt bundle is what runs from then on.
  expect(readFileSync(path.join(copy, 'dist', 'cli', 'bnn-pynq.js'), 'utf8')).toContain('Train (edited)');
});

test('a source that imports a lazily loaded package in a form the bundle cannot serve fails the build', () => {
  const file = path.join(copy, 'lib', 'bnn', 'npz.ts');
  const before = readFileSync(file, 'utf8');
  writeFileSync(file, `import * as fflateAll from 'fflate';\nvoid fflateAll;\n${before}`);
  let stderr = '';
  try {
    execFileSync(process.execPath, [path.join(copy, 'scripts', 'build-cli.js')], { stdio: 'pipe' });
  } catch (err) {
    stderr = String((err as { stderr: Buffer }).stderr);
  }
  expect(stderr).toContain(
    "lib/bnn/npz.ts: `import * as fflateAll from 'fflate'`: the CLI bundle loads fflate lazily and needs the named import form",
  );
  writeFileSync(file, before);
});
