import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { trainRunCommand } from '../../lib/constructs/train-document';
import {
  BOOTSTRAP_STATE_TAG,
  CHECKPOINT_TAG,
  DATASET_NAME_PATTERN,
  RUN_ID_PATTERN,
  SWEEP_ID_PATTERN,
} from '../../lib/layout';
import { INSTANCE_SCRIPTS, REPO } from './support/instance';

// Every shell script of the repo is shellcheck-clean (sourced files followed), and the names the scripts
// hard-code because bash cannot import lib/layout.ts are the ones layout.ts defines.

function shellScripts(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' ? [] : shellScripts(p);
    return e.name.endsWith('.sh') ? [p] : [];
  });
}
const scripts = shellScripts(path.join(REPO, 'scripts'));

describe('shellcheck', () => {
  it('finds the instance scripts', () => {
    const names = scripts.map((s) => path.relative(INSTANCE_SCRIPTS, s));
    for (const s of [
      'user-data.sh',
      'bootstrap.sh',
      'stage-dataset.sh',
      'run-training.sh',
      'ssm/train.sh',
      'lib/common.sh',
    ]) {
      expect(names).toContain(s);
    }
  });

  it.each(scripts.map((s) => [path.relative(REPO, s), s]))('%s is clean', (_name, file) => {
    const r = spawnSync('shellcheck', ['-x', '-P', 'SCRIPTDIR', file], { encoding: 'utf8' });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('the train document script, as the construct builds it, is clean', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'train-doc-'));
    // Laid out like scripts/instance, so the script's `source` directive (../lib/common.sh) resolves.
    fs.mkdirSync(path.join(dir, 'ssm'));
    fs.symlinkSync(path.join(INSTANCE_SCRIPTS, 'lib'), path.join(dir, 'lib'));
    const file = path.join(dir, 'ssm', 'train.sh');
    try {
      fs.writeFileSync(file, `${trainRunCommand().join('\n')}\n`);
      const r = spawnSync('shellcheck', ['-x', '-P', 'SCRIPTDIR', file], { encoding: 'utf8' });
      expect(r.stdout + r.stderr).toBe('');
      expect(r.status).toBe(0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('names shared with lib/layout.ts', () => {
  const common = fs.readFileSync(path.join(INSTANCE_SCRIPTS, 'lib', 'common.sh'), 'utf8');
  const run = fs.readFileSync(path.join(INSTANCE_SCRIPTS, 'run-training.sh'), 'utf8');
  it('bootstrap state tag', () => {
    expect(common).toContain(`: "\${BNN_STATE_TAG:=${BOOTSTRAP_STATE_TAG}}"`);
    expect(fs.readFileSync(path.join(INSTANCE_SCRIPTS, 'user-data.sh'), 'utf8')).toContain(
      `\\"Key\\":\\"${BOOTSTRAP_STATE_TAG}\\"`,
    );
  });
  it('run id and dataset name patterns', () => {
    expect(common).toContain(`RUN_ID_RE='${RUN_ID_PATTERN.source}'`);
    expect(common).toContain(`SWEEP_ID_RE='${SWEEP_ID_PATTERN.source}'`);
    expect(common).toContain(`DATASET_RE='${DATASET_NAME_PATTERN.source}'`);
  });
  it('checkpoint tag (URL-encoded for --tagging)', () => {
    const encoded = `${encodeURIComponent(CHECKPOINT_TAG.key)}=${encodeURIComponent(CHECKPOINT_TAG.value)}`;
    expect(run).toContain(`: "\${BNN_CHECKPOINT_TAG:=${encoded}}"`);
  });
});
