// Filters and file names of the admin console's audit page.

/** The audit page's filter inputs, with `since` and `until` as datetime-local values in local time. */
export interface AuditFilters {
  action: string;
  actor: string;
  since: string;
  until: string;
}

/**
 * Returns the query of GET /api/admin/audit and /api/admin/audit/export for `filters`.
 * Empty inputs are left out, and times become Unix milliseconds (`since` inclusive,
 * `until` exclusive).
 */
export function auditQuery(filters: AuditFilters): URLSearchParams {
  const query = new URLSearchParams();
  if (filters.action) query.set('action', filters.action);
  if (filters.actor) query.set('actor', filters.actor);
  for (const key of ['since', 'until'] as const) {
    const millis = filters[key] ? new Date(filters[key]).getTime() : NaN;
    if (Number.isFinite(millis)) query.set(key, String(millis));
  }
  return query;
}

const twoDigits = (value: number) => String(value).padStart(2, '0');

/** Returns the export's file name for the local time `at`: cchub-audit-YYYYMMDD-HHMMSS.jsonl. */
export function auditExportName(at: Date): string {
  const date = `${at.getFullYear()}${twoDigits(at.getMonth() + 1)}${twoDigits(at.getDate())}`;
  const time = `${twoDigits(at.getHours())}${twoDigits(at.getMinutes())}${twoDigits(at.getSeconds())}`;
  return `cchub-audit-${date}-${time}.jsonl`;
}
