import { at, captures, must } from '../lib/defined';

test('must returns the value, and names what is missing when it is not there', () => {
  expect(must(0, 'the count')).toBe(0);
  expect(must('', 'the name')).toBe('');
  expect(must(new Map([['a', 1]]).get('a'), 'a')).toBe(1);
  expect(() => must(new Map<string, number>().get('b'), "class b's index")).toThrow(
    "class b's index is missing",
  );
});

test('at reads in range and names the array, the index and its length out of range', () => {
  const pixels = Uint8Array.from([7, 0, 255]);
  expect(at(pixels, 1, 'the pixels')).toBe(0);
  expect(at(['x', 'y'], 1, 'the names')).toBe('y');
  expect(() => at(pixels, 3, 'the pixels')).toThrow('the pixels: index 3 is out of range (length 3)');
  expect(() => at(['x'], -1, 'the names')).toThrow('the names: index -1 is out of range (length 1)');
});

test('captures gives groups 1..n of a match, and refuses a match missing one', () => {
  const m = /^(\w+)-(\d+)(?:\.(\w+))?$/.exec('lfc-3');
  expect(m).not.toBeNull();
  if (!m) return;
  expect(captures(m, 2, 'the pattern')).toEqual(['lfc', '3']);
  expect(() => captures(m, 3, 'the pattern')).toThrow(
    "the pattern: the match 'lfc-3' lacks one of its 3 capture groups",
  );
});
