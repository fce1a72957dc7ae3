import { describe, expect, it } from 'vitest';
import { detectLang, dictionaries, formatBytes, translate } from './i18n';

describe('i18n', () => {
  it('has every key in both languages', () => {
    const english = Object.keys(dictionaries.en).sort();
    expect(Object.keys(dictionaries['zh-CN']).sort()).toEqual(english);
    for (const value of Object.values(dictionaries['zh-CN'])) expect(value.length).toBeGreaterThan(0);
  });

  it('detects Chinese browsers', () => {
    expect(detectLang(['zh-CN', 'en'])).toBe('zh-CN');
    expect(detectLang(['zh-TW'])).toBe('zh-CN');
    expect(detectLang(['en-US', 'de'])).toBe('en');
    expect(detectLang([])).toBe('en');
  });

  it('fills placeholders', () => {
    expect(translate('en', 'workspace.queued', { position: 2 })).toContain('number 2');
    expect(translate('zh-CN', 'workspace.queued', { position: 2 })).toContain('第 2 位');
  });

  it('formats sizes per locale', () => {
    expect(formatBytes('en', 1536 * 1024 * 1024)).toBe('1.5 GiB');
    expect(formatBytes('en', 512)).toBe('512 B');
  });
});
