/**
 * Reads of values this program's own logic guarantees: an index below its array's length, a group a
 * regular expression always captures, a key put in a map just before. With `noUncheckedIndexedAccess`
 * such reads are typed `T | undefined`; these helpers narrow them and, should the guarantee ever break,
 * throw at the read, naming what was missing, instead of letting `undefined` flow on as a number or a
 * string. They are not for input a user can get wrong: that is checked where it is read, with a
 * `UserError` that says what to do (lib/errors.ts). The CLI prints these as `internal error: ...`.
 */

/** The value, which the caller's logic guarantees is there; `what` names it for the error. */
export function must<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`${what} is missing`);
  return value;
}

/**
 * `items[index]` for an index the caller's logic keeps in range; `what` names the array for the error.
 * For reads outside hot loops: its one read site sees every kind of array the program passes it and
 * becomes slow (six times a plain read, measured in a loop); in a loop over pixels, weights or neurons
 * write `must(items[i], what)`, whose read stays at the caller's site and runs as fast as a plain one.
 */
export function at<T>(items: ArrayLike<T>, index: number, what: string): T {
  const value = items[index];
  if (value === undefined)
    throw new Error(`${what}: index ${index} is out of range (length ${items.length})`);
  return value;
}

type Strings<N extends number, Acc extends string[] = []> = Acc['length'] extends N
  ? Acc
  : Strings<N, [...Acc, string]>;

/**
 * Capture groups 1..`count` of a match whose pattern captures each of them on every match (no group is
 * optional or in an untaken alternative); `what` names the pattern for the error.
 */
export function captures<const N extends number>(
  match: RegExpMatchArray,
  count: N,
  what: string,
): Strings<N> {
  const groups = match.slice(1, count + 1);
  if (groups.length !== count || groups.some((g) => g === undefined))
    throw new Error(`${what}: the match '${match[0]}' lacks one of its ${count} capture groups`);
  return groups as Strings<N>;
}
