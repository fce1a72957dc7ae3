import { h } from 'preact';
import { act } from 'preact/test-utils';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Files } from './files';
import { renderWithApp } from './testing';

// The app module imports every page, and xterm's canvas code cannot load in jsdom.
vi.mock('./terminal', () => ({ Terminal: () => null }));

const existing = [
  { name: 'docs', path: 'docs', kind: 'dir', size: 0 },
  { name: 'notes.md', path: 'notes.md', kind: 'file', size: 4 },
];

/** Renders the Files page on a workspace root that contains `existing`. */
async function renderPage() {
  const requests: string[] = [];
  const uploads: string[][] = [];
  const api = {
    request: async (method: string, path: string) => {
      requests.push(`${method} ${path}`);
      if (path.startsWith('/api/files/tree')) return { entries: existing, total: existing.length };
      return {};
    },
    upload: async (_folder: string, files: File[]) => {
      uploads.push(files.map((f) => f.name));
    },
  };
  const { host, unmount } = await renderWithApp(api, h(Files, { dark: false }));
  const writes = () => requests.filter((r) => !r.startsWith('GET'));
  const drop = async (names: string[]) => {
    const event = new Event('drop', { bubbles: true, cancelable: true });
    Object.defineProperty(event, 'dataTransfer', { value: { files: names.map((name) => new File(['x'], name)) } });
    await act(async () => {
      host.querySelector('.files-page')!.dispatchEvent(event);
    });
  };
  const clickNewFile = async () => {
    const button = [...host.querySelectorAll('button')].find((b) => b.textContent === 'New file')!;
    await act(async () => button.click());
  };
  return { host, requests, uploads, writes, drop, clickNewFile };
}

describe('Files page', () => {
  afterEach(() => {
    vi.unstubAllGlobals();
    document.body.innerHTML = '';
  });

  it('rejects a new file with a taken name', async () => {
    const page = await renderPage();
    for (const name of ['notes.md', 'docs', './notes.md']) {
      vi.stubGlobal('prompt', () => name);
      await page.clickNewFile();
      expect(page.writes()).toEqual([]);
      expect(page.host.textContent).toContain('already exists');
    }
  });

  it('creates a new file with a free name', async () => {
    const page = await renderPage();
    vi.stubGlobal('prompt', () => 'todo.md');
    await page.clickNewFile();
    expect(page.writes()).toEqual(['PUT /api/files/content?path=todo.md']);
  });

  it('keeps files when a replacing upload is cancelled', async () => {
    const page = await renderPage();
    const questions: string[] = [];
    vi.stubGlobal('confirm', (question: string) => (questions.push(question), false));
    await page.drop(['notes.md', 'new.txt']);
    expect(page.uploads).toEqual([]);
    expect(questions.length).toBe(1);
    expect(questions[0]).toContain('notes.md');
    expect(questions[0]).not.toContain('new.txt');
  });

  it('uploads after the replacement is confirmed', async () => {
    const page = await renderPage();
    vi.stubGlobal('confirm', () => true);
    await page.drop(['notes.md']);
    expect(page.uploads).toEqual([['notes.md']]);
  });

  it('uploads new files without asking', async () => {
    const page = await renderPage();
    const confirm = vi.fn(() => false);
    vi.stubGlobal('confirm', confirm);
    await page.drop(['new.txt']);
    expect(confirm).not.toHaveBeenCalled();
    expect(page.uploads).toEqual([['new.txt']]);
  });
});
