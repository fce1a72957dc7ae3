import { describe, expect, it } from 'vitest';
import { dailyTotals } from './usage';

describe('dailyTotals', () => {
  it('sums users per day, oldest first', () => {
    const row = (day: string, input: number) => ({ day, input_tokens: input, output_tokens: 1, cache_creation_tokens: 0, cache_read_tokens: 0 });
    expect(dailyTotals([row('2026-12-02', 10), row('2026-12-01', 5), row('2026-12-02', 3)])).toEqual([
      { day: '2026-12-01', tokens: 6 },
      { day: '2026-12-02', tokens: 15 },
    ]);
  });
});
