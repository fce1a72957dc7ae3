// Token usage rows of GET /api/admin/usage summed per day, for the chart.

export interface DayTotal {
  day: string;
  tokens: number;
}

/** Sums every user's tokens (input, output, cache writes and reads) per day, oldest first. */
export function dailyTotals(rows: { day: string; input_tokens: number; output_tokens: number; cache_creation_tokens: number; cache_read_tokens: number }[]): DayTotal[] {
  const totals = new Map<string, number>();
  for (const row of rows) {
    const tokens = row.input_tokens + row.output_tokens + row.cache_creation_tokens + row.cache_read_tokens;
    totals.set(row.day, (totals.get(row.day) ?? 0) + tokens);
  }
  return [...totals.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([day, tokens]) => ({ day, tokens }));
}
