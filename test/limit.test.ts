import { mapLimit } from '../lib/limit';

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

test('mapLimit keeps the results in item order with at most `limit` calls in flight', async () => {
  let inFlight = 0;
  let most = 0;
  const out = await mapLimit([5, 1, 4, 2, 3], 2, async (v, i) => {
    inFlight++;
    most = Math.max(most, inFlight);
    for (let k = 0; k < v; k++) await tick(); // finish out of order
    inFlight--;
    return `${i}:${v}`;
  });
  expect(out).toEqual(['0:5', '1:1', '2:4', '3:2', '4:3']);
  expect(most).toBe(2);
  expect(await mapLimit([], 4, async () => 1)).toEqual([]);
});

test('mapLimit: after the first failure no item starts, the calls in flight finish, and that error is thrown', async () => {
  const started: number[] = [];
  const finished: number[] = [];
  const run = mapLimit([0, 1, 2, 3, 4, 5], 2, async (v) => {
    started.push(v);
    if (v === 1) throw new Error('item 1 failed');
    for (let k = 0; k < 3; k++) await tick();
    finished.push(v);
  });
  await expect(run).rejects.toThrow('item 1 failed');
  // 0 and 1 start together; 1 fails at once, 0 was in flight and still finishes; nothing after 1 starts.
  expect(started).toEqual([0, 1]);
  expect(finished).toEqual([0]);
});

test('mapLimit passes every item as it is, undefined included', async () => {
  expect(await mapLimit([undefined, 1, undefined], 2, async (v, i) => `${i}:${v}`)).toEqual([
    '0:undefined',
    '1:1',
    '2:undefined',
  ]);
});
