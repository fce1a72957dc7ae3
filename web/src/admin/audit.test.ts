import { describe, expect, it } from 'vitest';
import { auditExportName, auditQuery } from './audit';

const none = { action: '', actor: '', since: '', until: '' };

describe('auditQuery', () => {
  it('leaves out empty filters', () => {
    expect(auditQuery(none).toString()).toBe('');
  });

  it('passes action and actor', () => {
    const query = auditQuery({ ...none, action: 'file.write', actor: 'ada' });
    expect(query.get('action')).toBe('file.write');
    expect(query.get('actor')).toBe('ada');
  });

  it('converts local times to Unix milliseconds', () => {
    const query = auditQuery({ ...none, since: '2026-03-01T08:30', until: '2026-03-02T00:00:15' });
    expect(query.get('since')).toBe(String(new Date(2026, 2, 1, 8, 30).getTime()));
    expect(query.get('until')).toBe(String(new Date(2026, 2, 2, 0, 0, 15).getTime()));
  });

  it('ignores an invalid time', () => {
    expect(auditQuery({ ...none, since: 'yesterday' }).has('since')).toBe(false);
  });
});

describe('auditExportName', () => {
  it('stamps the local date and time', () => {
    expect(auditExportName(new Date(2026, 0, 2, 3, 4, 5))).toBe('cchub-audit-20260102-030405.jsonl');
    expect(auditExportName(new Date(2026, 11, 31, 23, 59, 59))).toBe('cchub-audit-20261231-235959.jsonl');
  });
});
