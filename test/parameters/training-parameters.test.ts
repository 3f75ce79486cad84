import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { Command, type Option } from 'commander';
import { register } from '../../lib/cli/commands/train';
import { processContext } from '../../lib/cli/env';
import { TrainDocument, trainRunCommand } from '../../lib/constructs/train-document';
import { must } from '../../lib/defined';
import {
  DATASET_NAME_PATTERN,
  DEFAULT_DATASET,
  RUN_ID_PATTERN,
  TRAIN_DOCUMENT_PARAMETERS,
} from '../../lib/layout';
import {
  PARAMETER_PATTERNS,
  parameterPattern,
  patternSource,
  TRAINING_PARAMETERS,
} from '../../lib/training/parameters';
import { REPO_ROOT } from '../support/cli';

// The training-parameter table (scripts/instance/training-parameters.json) and every side made from it: the
// `train` document, `bnn-pynq train`'s options, train.sh, run-training.sh (test/instance/train.test.ts runs it)
// and bnn_train's argparse (test/python/test_parameters.py).

const TABLE = path.join(REPO_ROOT, 'scripts', 'instance', 'training-parameters.json');
const INSTANCE = path.join(REPO_ROOT, 'scripts', 'instance');
const raw = JSON.parse(fs.readFileSync(TABLE, 'utf8'));

/** Values each pattern is tried on in all three regex dialects (JavaScript, Python re, bash =~). */
const PROBES = [
  '',
  '0',
  '1',
  '2',
  '3',
  '010',
  '100',
  '999999',
  '1000000',
  '-1',
  '1.5',
  '0.003',
  '3e-7',
  '3E+07',
  '1e123',
  '.5',
  'abc',
  'fashion-mnist',
  'Fashion-MNIST',
  'x',
  'ab',
  'a-b',
  '-ab',
  'a_b',
  'a b',
  "x';reboot;'",
  'board',
  'argmax',
  'boardx',
  'true',
  'false',
  'yes',
  '20261126-061500-fashion-mnist-a1b2',
  'a'.repeat(63),
  'a'.repeat(64),
  'a'.repeat(80),
  'a'.repeat(81),
  '1234567890',
]; // fmt: keep one probe list for every dialect

describe('the table', () => {
  test('every parameter is well formed: known type, a named pattern, a default its own rule accepts', () => {
    const names = TRAINING_PARAMETERS.map((p) => p.name);
    expect(new Set(names).size).toBe(names.length);
    for (const p of TRAINING_PARAMETERS) {
      expect(['string', 'integer', 'number', 'boolean']).toContain(p.type);
      expect(Object.keys(PARAMETER_PATTERNS)).toContain(p.pattern);
      expect(parameterPattern(p).test(p.default)).toBe(true);
      expect(p.description).toMatch(/\S/);
      expect(p.expected).toMatch(/\S/);
      if (p.trainerOmits !== undefined) expect(parameterPattern(p).test(p.trainerOmits)).toBe(true);
    }
    const flags = (xs: (string | null)[]) => xs.filter((x) => x !== null);
    for (const side of [TRAINING_PARAMETERS.map((p) => p.cli), TRAINING_PARAMETERS.map((p) => p.trainer)]) {
      expect(new Set(flags(side)).size).toBe(flags(side).length);
    }
    // No field the code does not read (a misspelt "trainerOmit" would silently do nothing).
    const known = [
      'name',
      'type',
      'default',
      'pattern',
      'emptyAllowed',
      'expected',
      'description',
      'cli',
      'trainer',
      'trainerRequired',
      'trainerDefault',
      'trainerOmits',
    ]; // fmt: keep
    for (const p of raw.parameters) expect(known).toEqual(expect.arrayContaining(Object.keys(p)));
  });

  test('each pattern is anchored and reads the same in JavaScript, Python and bash', () => {
    const keys = Object.keys(PARAMETER_PATTERNS);
    const js = Object.values(PARAMETER_PATTERNS).map((pattern) =>
      PROBES.map((v) => (new RegExp(pattern).test(v) ? '1' : '0')).join(''),
    );
    for (const k of keys) expect(PARAMETER_PATTERNS[k]).toMatch(/^\^.*\$$/);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'patterns-'));
    const probes = path.join(dir, 'probes.json');
    fs.writeFileSync(probes, JSON.stringify(PROBES));
    const py = spawnSync(
      '/usr/bin/python3',
      [
        '-c',
        'import json,sys; from bnn_train import parameters as p; probes = json.load(open(sys.argv[1]))\n' +
          'for k in sys.argv[2:]: print("".join("1" if p.PATTERNS[k].match(v) else "0" for v in probes))',
        probes,
        ...keys,
      ],
      { encoding: 'utf8', env: { ...process.env, PYTHONPATH: INSTANCE } },
    );
    expect(py.stderr).toBe('');
    expect(py.stdout.trim().split('\n')).toEqual(js);
    const sh = spawnSync(
      'bash',
      [
        '-c',
        'probes=$1 table=$2; shift 2\n' +
          'for k in "$@"; do re=$(jq -r --arg k "$k" ".patterns[\\$k]" "$table"); line=""\n' +
          '  while IFS= read -r v; do if [[ "$v" =~ $re ]]; then line+=1; else line+=0; fi; done < <(jq -r ".[]" "$probes")\n' +
          '  echo "$line"; done',
        'bash',
        probes,
        TABLE,
        ...keys,
      ],
      { encoding: 'utf8' },
    );
    fs.rmSync(dir, { recursive: true, force: true });
    expect(sh.stderr).toBe('');
    expect(sh.stdout.trim().split('\n')).toEqual(js);
  });

  test('lib/layout.ts takes its run-id and dataset-name patterns, its default dataset and the names from it', () => {
    expect(RUN_ID_PATTERN.source).toBe(raw.patterns.runId);
    expect(DATASET_NAME_PATTERN.source).toBe(raw.patterns.datasetName);
    expect(DEFAULT_DATASET).toBe(raw.parameters.find((p: { name: string }) => p.name === 'dataset').default);
    expect([...TRAIN_DOCUMENT_PARAMETERS]).toEqual(raw.parameters.map((p: { name: string }) => p.name));
  });
});

describe('the train document', () => {
  const stack = new Stack(new App(), 'T');
  new TrainDocument(stack, 'Train');
  const [doc] = Object.values(Template.fromStack(stack).findResources('AWS::SSM::Document'));
  const content = must(doc, 'the SSM document').Properties.Content;

  test('has exactly the table parameters, each with its description, default and pattern', () => {
    expect(Object.keys(content.parameters)).toEqual(TRAINING_PARAMETERS.map((p) => p.name));
    for (const p of TRAINING_PARAMETERS) {
      expect(content.parameters[p.name]).toEqual({
        type: 'String',
        description: p.description,
        default: p.default,
        allowedPattern: patternSource(p),
      });
    }
    expect(content.parameters.runId.allowedPattern).toBe(`^(${raw.patterns.runId.slice(1, -1)})?$`);
  });

  test('hands every table parameter to its script as P_<name>', () => {
    const lines = trainRunCommand();
    for (const p of TRAINING_PARAMETERS) expect(lines).toContain(`export P_${p.name}='{{ ${p.name} }}'`);
  });
});

describe('train.sh (run by hand, without SSM) checks every table parameter against the table', () => {
  const run = (env: Record<string, string>) =>
    spawnSync('bash', [path.join(INSTANCE, 'ssm', 'train.sh')], {
      encoding: 'utf8',
      env: {
        PATH: process.env.PATH,
        BNN_SRC: INSTANCE,
        BNN_ENV_FILE: '/nonexistent/bnn-pynq.env',
        BNN_STATE_DIR: fs.mkdtempSync(path.join(os.tmpdir(), 'state-')),
        ...env,
      },
    });

  test.each(TRAINING_PARAMETERS.map((p) => [p.name]))(
    '%s: a value off its pattern is refused, named',
    (name) => {
      const r = run({ [`P_${name}`]: 'Bad Value' });
      expect(r.stderr).toContain(`error: parameter ${name}='Bad Value' is not valid: expected `);
      expect(r.status).toBe(1);
    },
  );

  test('the table defaults pass every check (the run stops later, at the instance state)', () => {
    const r = run({});
    expect(r.stderr).not.toContain('is not valid');
    expect(r.stderr).toMatch(/BNN_ARTIFACT_BUCKET|not ready to train/);
  });
});

describe('bnn-pynq train', () => {
  const program = new Command();
  register(program, processContext);
  const train = program.commands.find((c) => c.name() === 'train');
  const optionOf = (flags: string): Option | undefined => train?.options.find((o) => o.flags === flags);

  test('has an option for every table parameter with a cli flag, and nothing else sets one', () => {
    for (const p of TRAINING_PARAMETERS) {
      if (p.cli === null) continue;
      const option = optionOf(p.cli);
      expect(option).toBeDefined();
      expect(option?.description).toContain(p.description);
    }
    // The CLI makes the run id itself (runTrain); every other parameter can be set by the user.
    expect(TRAINING_PARAMETERS.filter((p) => p.cli === null).map((p) => p.name)).toEqual(['runId']);
  });

  test.each(
    TRAINING_PARAMETERS.filter((p) => p.cli !== null && p.type !== 'boolean').map((p) => [p.name, p]),
  )(
    '%s: its option takes the table default, typed, and refuses a value off the pattern with the table words',
    (_, p) => {
      const option = optionOf(p.cli as string) as Option;
      const parse = (v: string) => option.parseArg?.(v, undefined);
      const typed = p.type === 'integer' || p.type === 'number' ? Number(p.default) : p.default;
      expect(parse(p.default)).toBe(typed);
      // A pattern that lists words is commander's choices(), with commander's message.
      const words = /^\^\((.*)\)\$$/.exec(patternSource(p))?.[1]?.split('|');
      if (option.argChoices) expect(option.argChoices).toEqual(words);
      expect(() => parse('Bad Value')).toThrow(
        option.argChoices
          ? `Allowed choices are ${option.argChoices.join(', ')}.`
          : `${option.long} must be ${p.expected}, got "Bad Value"`,
      );
    },
  );

  test('--seed 0 (the default seed) is accepted', () => {
    expect(optionOf('--seed <n>')?.parseArg?.('0', undefined)).toBe(0);
  });
});
