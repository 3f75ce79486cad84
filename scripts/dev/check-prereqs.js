#!/usr/bin/env node
// Runs before the tests: says in one line what is missing on this machine and how to get it,
// instead of letting dozens of tests fail with confusing messages.
const { spawnSync } = require('node:child_process');
const { readFileSync } = require('node:fs');
const path = require('node:path');

const wanted = readFileSync(path.join(__dirname, 'system-packages.txt'), 'utf8')
  .split('\n')
  .map((l) => l.replace(/#.*/, '').trim())
  .filter(Boolean);
// biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own format syntax, not a JS template
const FORMAT = '-f=${Package} ${Status}\n';
// dpkg-query exits non-zero when any package is unknown, but still prints the known ones.
const out = spawnSync('dpkg-query', ['-W', FORMAT, ...wanted], { encoding: 'utf8' }).stdout ?? '';
const installed = new Set(
  out
    .split('\n')
    .filter((l) => l.endsWith('install ok installed'))
    .map((l) => l.split(' ')[0]),
);
const missing = wanted.filter((p) => !installed.has(p));
if (missing.length > 0) {
  process.stderr.write(
    `error: the tests need these Debian packages, not installed here: ${missing.join(' ')}\n` +
      '       run: sudo bash scripts/dev/setup-system.sh   (then npm test again)\n',
  );
  process.exit(1);
}
