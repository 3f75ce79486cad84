import fc from 'fast-check';
import { must } from '../../lib/defined';
import { UserError } from '../../lib/errors';
import { RUN_ID_PATTERN } from '../../lib/layout';
import {
  GRID_ALIASES,
  type GridAxis,
  gridSize,
  MAX_SWEEP_RUNS,
  parseGridArg,
  planSweep,
} from '../../lib/sweep/grid';
import { parameterPattern, trainingParameter } from '../../lib/training/parameters';

const SWEEP = '20261201-130000-sweep-a1b2';
const error = (f: () => unknown): string => {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(UserError);
    return (err as Error).message;
  }
  throw new Error('expected a UserError');
};

describe('parseGridArg', () => {
  test('aliases: the train CLI option names from the parameter table, and lr', () => {
    expect(GRID_ALIASES).toEqual({
      lr: 'learningRateStart',
      'lr-start': 'learningRateStart',
      'lr-end': 'learningRateEnd',
      'batch-size': 'batchSize',
      'limit-train': 'limitTrain',
      wb: 'weightBits',
      ab: 'activationBits',
    });
  });
  test('lists and ranges; aliases are the train CLI option names', () => {
    expect(parseGridArg('lr=0.003,0.001')).toEqual({ key: 'learningRateStart', values: ['0.003', '0.001'] });
    expect(parseGridArg('seed=1..4')).toEqual({ key: 'seed', values: ['1', '2', '3', '4'] });
    expect(parseGridArg('dataset=fashion-mnist,my-set')).toEqual({
      key: 'dataset',
      values: ['fashion-mnist', 'my-set'],
    });
    expect(parseGridArg('network=lfcW1A1')).toEqual({ key: 'network', values: ['lfcW1A1'] });
    expect(parseGridArg('batch-size=50,100').key).toBe('batchSize');
  });
  test.each([
    ['lr', /expected key=value/],
    ['colour=red', /unknown grid key "colour"/],
    ['seed=4..1', /empty/],
    ['seed=1,,2', /empty value/],
    ['seed=1,1', /appears twice/],
    ['lr=fast', /learningRateStart "fast" is not valid: expected .*\^\[0-9\]/],
    ['dataset=My_Set', /dataset "My_Set" is not valid/],
    ['epochs=0', /epochs "0" is not valid/],
    ['network=lfcW9A9', /network "lfcW9A9" is not valid/],
    ['seed=1..5000', /more than 1000/],
  ])('%s → one clear error', (arg, message) => {
    expect(error(() => parseGridArg(arg))).toMatch(message);
    expect(error(() => parseGridArg(arg))).toContain(`--grid ${arg}`);
  });
});

describe('planSweep', () => {
  test('the issue example: 2 lr × 4 seeds × 2 datasets = 16 runs, first axis outermost', () => {
    const axes = ['lr=0.003,0.001', 'seed=1..4', 'dataset=fashion-mnist,my-set'].map(parseGridArg);
    const runs = planSweep(SWEEP, axes, { epochs: '200' });
    expect(runs).toHaveLength(16);
    expect(runs[0]).toEqual({
      index: 0,
      runId: `${SWEEP}-000`,
      // Empty: the network's own value (BNN-PYNQ's, chosen by bnn_train), as the train document leaves it.
      parameters: {
        dataset: 'fashion-mnist',
        network: 'lfcW1A1',
        graph: '',
        epochs: '200',
        batchSize: '',
        learningRateStart: '0.003',
        learningRateEnd: '',
        seed: '1',
        weightBits: '',
        activationBits: '',
        limitTrain: '0',
        select: 'board',
      },
    });
    expect(
      runs
        .map((r) => `${r.parameters.learningRateStart}/${r.parameters.seed}/${r.parameters.dataset}`)
        .slice(0, 3),
    ).toEqual(['0.003/1/fashion-mnist', '0.003/1/my-set', '0.003/2/fashion-mnist']);
    expect(runs[15]?.parameters).toEqual(
      expect.objectContaining({ learningRateStart: '0.001', seed: '4', dataset: 'my-set' }),
    );
  });
  test('network is a grid key like any other; bits, when given, must be the network’s (as train.sh checks)', () => {
    expect(
      planSweep(SWEEP, [parseGridArg('network=lfcW1A1,lfcW1A2,cnvW1A1')]).map((r) => r.parameters.network),
    ).toEqual(['lfcW1A1', 'lfcW1A2', 'cnvW1A1']);
    expect(planSweep(SWEEP, [parseGridArg('network=lfcW1A2')], { activationBits: '2' })).toHaveLength(1);
    expect(
      error(() => planSweep(SWEEP, [parseGridArg('network=lfcW1A1,lfcW1A2')], { activationBits: '1' })),
    ).toBe("activationBits=1 does not fit network lfcW1A2; leave it out (the network's is used)");
  });

  test('a key both gridded and fixed, twice gridded, or a bad fixed value is refused', () => {
    expect(error(() => planSweep(SWEEP, [parseGridArg('epochs=1,2')], { epochs: '3' }))).toMatch(
      /both a grid key and a fixed option/,
    );
    expect(error(() => planSweep(SWEEP, [parseGridArg('seed=1'), parseGridArg('seed=2')]))).toMatch(
      /given twice/,
    );
    expect(error(() => planSweep(SWEEP, [parseGridArg('seed=1')], { epochs: '-1' }))).toMatch(
      /epochs "-1" is not valid/,
    );
    expect(error(() => planSweep(SWEEP, []))).toMatch(/at least one --grid/);
  });
  test(`more than ${MAX_SWEEP_RUNS} runs is refused before anything is expanded`, () => {
    const axes = [parseGridArg('seed=1..100'), parseGridArg('batchSize=1..11')];
    expect(error(() => planSweep(SWEEP, axes))).toMatch(/1100 runs; a sweep takes at most 1000/);
  });
});

/** An axis of distinct valid values of one key. */
const axisArb = (key: 'seed' | 'batchSize' | 'epochs' | 'limitTrain') =>
  fc
    .uniqueArray(fc.integer({ min: 1, max: 99_999 }), { minLength: 1, maxLength: 6 })
    .map((values): GridAxis => ({ key, values: values.map(String) }));
/**
 * A grid of 1-4 axes a sweep accepts: at most MAX_SWEEP_RUNS runs (1 sample in ~1,300 is over, and is left out; the
 * limit itself is tested above). Without the bound, a sample over the limit failed the property, and shrinking it
 * through candidates of ~1,000 runs each blocked the jest worker for over 20 minutes.
 */
const gridArb = fc
  .shuffledSubarray(['seed', 'batchSize', 'epochs', 'limitTrain'] as const, { minLength: 1 })
  .chain((keys) => fc.tuple(...keys.map(axisArb)))
  .filter((axes) => gridSize(axes) <= MAX_SWEEP_RUNS);

describe('grid expansion properties', () => {
  test('count = product of axis sizes; every combination exactly once; last axis fastest', () => {
    fc.assert(
      fc.property(gridArb, (axes) => {
        const runs = planSweep(SWEEP, axes);
        expect(runs).toHaveLength(gridSize(axes));
        const combos = new Set(runs.map((r) => axes.map((a) => r.parameters[a.key]).join('|')));
        expect(combos.size).toBe(runs.length);
        // Index order = odometer order: the last axis changes on every step.
        const last = must(axes.at(-1), 'the last axis');
        runs.forEach((r, i) => {
          expect(r.index).toBe(i);
          expect(r.parameters[last.key]).toBe(last.values[i % last.values.length]);
        });
      }),
      { numRuns: 200 },
    );
  });
  test('every run id is unique, ordered, and a valid run id (≤ 80 characters)', () => {
    fc.assert(
      fc.property(gridArb, (axes) => {
        const ids = planSweep(SWEEP, axes).map((r) => r.runId);
        expect(new Set(ids).size).toBe(ids.length);
        expect([...ids].sort()).toEqual(ids);
        for (const id of ids) expect(id).toMatch(RUN_ID_PATTERN);
      }),
      { numRuns: 200 },
    );
  });
  test('every value of every run passes the train document pattern of its parameter', () => {
    fc.assert(
      fc.property(gridArb, (axes) => {
        // One expect per sample, not per value: a grid has up to 1,000 runs of ~10 values.
        const refused = planSweep(SWEEP, axes).flatMap((run) =>
          Object.entries(run.parameters)
            .filter(([key, value]) => !parameterPattern(trainingParameter(key)).test(value))
            .map(([key, value]) => `run ${run.index}: ${key}=${value}`),
        );
        expect(refused).toEqual([]);
      }),
      { numRuns: 100 },
    );
  });
  test('any value the train document pattern refuses is refused by the grid', () => {
    fc.assert(
      fc.property(
        fc
          .string({ minLength: 1, maxLength: 12 })
          .filter((s) => !s.includes(',') && s.trim() === s && s !== ''),
        (value) => {
          const ok = parameterPattern(trainingParameter('learningRateStart')).test(value);
          if (ok) expect(parseGridArg(`lr=${value}`).values).toEqual([value]);
          else expect(() => parseGridArg(`lr=${value}`)).toThrow(UserError);
        },
      ),
      { numRuns: 300 },
    );
  });
});
