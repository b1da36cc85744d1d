// fast-check generators shared by the API property tests (test/http/property.test.ts,
// test/http/account-property.test.ts, test/send/http-property.test.ts).
import fc from 'fast-check';

/** Any JSON value, to put where an object or a scalar belongs. */
export const junk = fc.oneof(fc.constantFrom(null, true, false, '', 0, -1, 1.5, [], {}, 'x', '110'), fc.jsonValue({ maxDepth: 2 }));

/** Mostly a valid value (`odds` to one), sometimes a wrong one: most bodies then have zero or one mistake. */
export const mostly = <T, U>(valid: fc.Arbitrary<T>, invalid: fc.Arbitrary<U>, odds = 15) =>
  fc.oneof({ weight: odds, arbitrary: valid as fc.Arbitrary<T | U> }, { weight: 1, arbitrary: invalid as fc.Arbitrary<T | U> });

/** A key left out one time in three (fast-check's `freq`: undefined with odds 1/freq). */
export const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined, freq: 3 });
