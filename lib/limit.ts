/**
 * `fn` over `items` with at most `limit` calls in flight (S3 uploads and downloads, per-run reads of a
 * sweep), the results in item order. On the first failure no further item is started; the calls already
 * in flight are waited for, so nothing still runs once this returns or throws, and the first error is
 * thrown.
 */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  // One iterator shared by the workers: each takes the next item, as it is (T may itself allow undefined).
  const queue = items.entries();
  let failed = false;
  const worker = async (): Promise<void> => {
    while (!failed) {
      const next = queue.next();
      if (next.done) return;
      const [i, item] = next.value;
      results[i] = await fn(item, i);
    }
  };
  const settled = await Promise.allSettled(
    Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, () =>
      worker().catch((err: unknown) => {
        failed = true;
        throw err;
      }),
    ),
  );
  const rejected = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (rejected) throw rejected.reason;
  return results;
}
