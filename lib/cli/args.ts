import { InvalidArgumentError } from 'commander';

/**
 * Argument parsers shared by every command (commander `argParser`s). Each throws commander's
 * InvalidArgumentError, so a bad value is refused before any work with
 * `error: option '--x <n>' argument 'v' is invalid. <message>` and exit 1.
 */

/** A whole number ≥ 1 (epochs, batch size, timeouts, limits). */
export function positiveInt(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n <= 0) {
      throw new InvalidArgumentError(`${name} must be a positive whole number, got "${value}"`);
    }
    return n;
  };
}

/** A whole number ≥ 0, at most `max` when given (seeds: 0 is a seed like any other). */
export function nonNegativeInt(name: string, max?: number) {
  return (value: string): number => {
    // Digits only: Number() alone would read "" as 0 and "0x10" as 16.
    const n = /^\d+$/.test(value) ? Number(value) : Number.NaN;
    if (!Number.isSafeInteger(n) || (max !== undefined && n > max)) {
      throw new InvalidArgumentError(
        max === undefined
          ? `${name} must be a whole number 0 or more, got "${value}"`
          : `${name} must be a whole number 0..${max}, got "${value}"`,
      );
    }
    return n;
  };
}

/** A repeatable option: every occurrence appended, in order. */
export const collect = (value: string, previous: string[] = []): string[] => [...previous, value];
