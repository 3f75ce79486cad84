import { spawnSync } from 'node:child_process';
import path from 'node:path';
import {
  PROGRESS_PROPERTIES,
  parseProgress,
  REPORT_TARGETS,
  REPORTED_FIELDS,
} from '../../lib/report/progress';
import { REPO_ROOT } from '../support/cli';
import { progressLines } from './fixtures';

// progress.jsonl's one definition (scripts/instance/progress.schema.json) on the reader's side; the writer's side
// is test/python/test_progress_schema.py (the real epoch loop's records validated against the schema).

const INSTANCE = path.join(REPO_ROOT, 'scripts', 'instance');

/** A record as bnn_train.progress.record builds it: every schema field, each number distinct. */
function pythonRecord(): Record<string, unknown> {
  const code = [
    'import json',
    'from bnn_train import progress',
    'values = {f: i + 1.5 for i, f in enumerate(progress.FIELDS)}',
    'values.update(epoch=7, epochs=40, best_epoch=5, select="board", improved=True, time="2026-11-26T06:15:00Z")',
    'print(json.dumps(progress.record(**values)))',
  ].join('\n');
  const r = spawnSync('/usr/bin/python3', ['-c', code], {
    encoding: 'utf8',
    env: { ...process.env, PYTHONPATH: INSTANCE },
  });
  expect(r.stderr).toBe('');
  return JSON.parse(r.stdout);
}

test('every x-report of the schema names an EpochPoint field, each at most once, and epoch is one', () => {
  const targets = REPORTED_FIELDS.map(([, t]) => t);
  expect(new Set(targets).size).toBe(targets.length);
  for (const t of targets) expect(REPORT_TARGETS).toContain(t);
  expect(REPORTED_FIELDS).toContainEqual(['epoch', 'epoch']);
  for (const [field] of REPORTED_FIELDS) expect(PROGRESS_PROPERTIES[field]?.type).toEqual(expect.anything());
});

test("the Python writer's record is read field by field, exactly where the schema's x-report says", () => {
  const record = pythonRecord();
  expect(Object.keys(record)).toEqual(Object.keys(PROGRESS_PROPERTIES));
  const [point] = parseProgress(JSON.stringify(record)).points;
  for (const [field, target] of REPORTED_FIELDS) {
    const [series, rule] = target.split('.');
    const got =
      rule !== undefined && series !== undefined
        ? (point as unknown as Record<string, Record<string, number>>)[series]?.[rule]
        : (point as unknown as Record<string, number>)[target];
    expect([field, got]).toEqual([field, record[field]]);
  }
});

test('the report fixtures (test/report/fixtures.ts) write exactly the schema fields', () => {
  for (const line of progressLines(3)) {
    expect(Object.keys(JSON.parse(line)).sort()).toEqual(Object.keys(PROGRESS_PROPERTIES).sort());
  }
});
