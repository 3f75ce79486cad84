import { at } from '../../lib/defined';
import { parseProgress, parseVerify } from '../../lib/report/progress';
import { FASHION_CLASSES, progressLines, verifyJson } from './fixtures';

describe('parseProgress', () => {
  test("reads every figure of the instance writer's records (scripts/instance/bnn_train/progress.py)", () => {
    const lines = progressLines(3, 40);
    const log = parseProgress(`${lines.join('\n')}\n`);
    expect(log.skipped).toBe(0);
    expect(log.points.map((p) => p.epoch)).toEqual([1, 2, 3]);
    const raw = JSON.parse(at(lines, 2, 'the progress lines'));
    const p = log.points[2];
    expect(p).toEqual({
      epoch: 3,
      epochs: 40,
      learningRate: raw.lr,
      trainLoss: raw.train_loss,
      validError: { argmax: raw.val_error_argmax, board: raw.val_error_board },
      testError: { argmax: raw.test_error_argmax, board: raw.test_error_board },
      bestValidError: raw.best_val_error,
      bestEpoch: raw.best_epoch,
      seconds: raw.seconds,
      etaSeconds: raw.eta_seconds,
    });
  });

  // Changed with issue 15 (progress.jsonl defined once, no guessing by field name): this test used to feed other
  // spellings (trainLoss, validationErrorBoard), nesting and accuracies and expect them read; the same lines now
  // use the schema's names, and the next test asserts that other spellings are not read.
  test('tolerates missing fields, blank and broken lines', () => {
    const text = [
      '{"epoch": 1, "train_loss": 0.11, "val_error_board": 19.5}',
      '',
      'not json',
      '{"epoch": 2, "val_error_board": 18.0, "val_error_argmax": 17.1, "test_error_argmax": 17.5}',
      '[1,2]',
      '{"no_epoch_here": true}',
      '{"epoch": 3}',
    ].join('\n');
    const log = parseProgress(text);
    expect(log.skipped).toBe(3);
    expect(log.points).toHaveLength(3);
    expect(log.points[0]).toMatchObject({ epoch: 1, trainLoss: 0.11, validError: { board: 19.5 } });
    expect(log.points[1]?.validError).toEqual({ board: 18.0, argmax: 17.1 });
    expect(log.points[1]?.testError.argmax).toBeCloseTo(17.5, 10);
    // best so far is derived when the writer does not give it (board rule first)
    expect(log.points.map((p) => [p.bestValidError, p.bestEpoch])).toEqual([
      [19.5, 1],
      [18.0, 2],
      [18.0, 2],
    ]);
    expect(log.points[2]?.validError).toEqual({});
  });

  test('guesses nothing: other spellings, nesting, accuracies, strings and nulls are not read', () => {
    const log = parseProgress(
      JSON.stringify({
        epoch: 1,
        trainLoss: 0.11,
        validationErrorBoard: 19.5,
        valid: { error: { board: 18 } },
        test_accuracy: 82.5,
        val_error_argmax: '17.1',
        test_error_board: null,
      }),
    );
    expect(log.points).toEqual([{ epoch: 1, validError: {}, testError: {} }]);
    expect(parseProgress('{"epoch": 1.5}').skipped).toBe(1);
  });

  test('a resumed run that rewrote an epoch keeps the last line for it, in epoch order', () => {
    const lines = progressLines(4, 4);
    const again = JSON.stringify({ ...JSON.parse(at(lines, 2, 'the progress lines')), val_error_board: 1.5 });
    const log = parseProgress([lines[0], lines[1], lines[2], again, lines[3]].join('\n'));
    expect(log.points.map((p) => p.epoch)).toEqual([1, 2, 3, 4]);
    expect(log.points[2]?.validError.board).toBe(1.5);
  });

  test('empty text is an empty log, not an error', () => {
    expect(parseProgress('')).toEqual({ points: [], skipped: 0 });
  });
});

describe('parseVerify', () => {
  test("reads the conversion job's verify.json (bnn-pynq-verify/1)", () => {
    const v = parseVerify(verifyJson('20261126-061500-fashion-mnist-a1b2'), 'verify.json');
    expect(v.accuracy).toBeCloseTo(83.81, 10);
    expect(v.correct).toBe(8381);
    expect(v.total).toBe(10000);
    expect(v.classes).toEqual(FASHION_CLASSES);
    expect(v.perClass).toEqual([80, 95.5, 74, 86, 76, 93.5, 56, 92, 95, 90.1]);
    expect(v.confusion).toHaveLength(10);
    expect(v.confusion?.flat().reduce((a, b) => a + b, 0)).toBe(10000);
    expect(v.argmaxAccuracy).toBe(84.65);
    expect(v.agreement).toBe(99.99);
    expect(v.noBitFired).toBe(530);
    expect(v.publishDecision).toBe('published');
  });

  test('reads the flat object of `bnn-pynq verify --json` too; a class without images stays NaN in place', () => {
    const v = parseVerify(
      JSON.stringify({
        accuracy: 98.4,
        correct: 9840,
        total: 10000,
        perClass: [{ accuracy: null }, { accuracy: 97 }],
      }),
      'x.json',
    );
    expect(v.accuracy).toBe(98.4);
    expect(v.perClass?.[0]).toBeNaN();
    expect(v.perClass?.[1]).toBe(97);
  });

  test('refuses text without an accuracy, naming the file', () => {
    expect(() => parseVerify('{"board": {}}', 's3://b/runs/x/verify.json')).toThrow(
      's3://b/runs/x/verify.json: no board accuracy',
    );
    expect(() => parseVerify('{', 'v.json')).toThrow('v.json: not valid JSON');
  });
});
