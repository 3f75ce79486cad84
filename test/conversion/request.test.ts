import { CONVERSION_ENV, conversionConfigFromEnv } from '../../lib/conversion/config';
import { parseConversionRequest } from '../../lib/conversion/request';

// What the automation (strings) and the EventBridge rule (the object key as runId) hand the Lambda.

describe('parseConversionRequest', () => {
  test('takes the automation parameters as SSM passes them (strings, empty = default)', () => {
    expect(
      parseConversionRequest({ runId: 'r-20261126', dataset: '', network: 'lfcW1A1', publish: 'false' }),
    ).toEqual({
      runId: 'r-20261126',
      dataset: undefined,
      network: 'lfcW1A1',
      publish: false,
    });
    expect(parseConversionRequest({ runId: ' r-20261126 ', dataset: 'mnist', network: '' })).toEqual({
      runId: 'r-20261126',
      dataset: 'mnist',
      network: undefined, // the job takes it from run.json, else lfcW1A1
      publish: true,
    });
    expect(parseConversionRequest({ runId: 'r-20261126', network: 'cnvW2A2' }).network).toBe('cnvW2A2');
  });

  test('cuts the run id out of the key an S3 event carries', () => {
    expect(parseConversionRequest({ runId: 'runs/20261126-061500-mnist-a1b2/model.npz' }).runId).toBe(
      '20261126-061500-mnist-a1b2',
    );
  });

  test.each([
    [
      {},
      'invalid conversion request: runId: runId is required (a run id, or the key runs/<runId>/model.npz)',
    ],
    [
      { runId: 'runs/x/checkpoint/model.npz' },
      'invalid runId "runs/x/checkpoint/model.npz": expected a run id',
    ],
    [{ runId: '../params' }, 'invalid runId "../params"'],
    [{ runId: 'run-1', dataset: 'Fashion MNIST' }, 'invalid dataset "Fashion MNIST": lower-case letters'],
    [
      { runId: 'run-1', network: 'cnvW3A3' },
      'invalid network "cnvW3A3": supported are lfcW1A1, lfcW1A2, cnvW1A1, cnvW1A2, cnvW2A2',
    ],
    [{ runId: 'run-1', publish: 'yes' }, 'invalid publish "yes": use true, false or auto'],
  ])('refuses %j with one clear message', (event, message) => {
    expect(() => parseConversionRequest(event)).toThrow(message);
  });
});

describe('conversionConfigFromEnv', () => {
  const env = { [CONVERSION_ENV.artifactBucket]: 'a', [CONVERSION_ENV.datasetBucket]: 'd' };

  test('defaults: floor 50 %, float comparison on the whole 10k test set', () => {
    expect(conversionConfigFromEnv(env)).toEqual({
      artifactBucket: 'a',
      datasetBucket: 'd',
      minAccuracyPercent: 50,
      floatCompareImages: 10000,
    });
  });

  test('reads the floor and refuses nonsense', () => {
    expect(
      conversionConfigFromEnv({ ...env, [CONVERSION_ENV.minAccuracyPercent]: '82.5' }).minAccuracyPercent,
    ).toBe(82.5);
    expect(() => conversionConfigFromEnv({ ...env, [CONVERSION_ENV.minAccuracyPercent]: '150' })).toThrow(
      'BNN_PYNQ_MIN_ACCURACY_PERCENT="150" is not a percentage between 0 and 100',
    );
    expect(() => conversionConfigFromEnv({ [CONVERSION_ENV.datasetBucket]: 'd' })).toThrow(
      'environment variable BNN_PYNQ_ARTIFACT_BUCKET is not set',
    );
  });
});
