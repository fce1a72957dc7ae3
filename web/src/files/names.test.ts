import { describe, expect, it } from 'vitest';
import { ApiError } from '../api';
import { Entry, findByName, listFolder, resolveName } from './names';

const entry = (path: string, kind: Entry['kind'] = 'file'): Entry => ({ name: path.slice(path.lastIndexOf('/') + 1), path, kind, size: 0 });

describe('resolveName', () => {
  it('joins the folder and the name', () => {
    expect(resolveName('', 'a.txt')).toBe('a.txt');
    expect(resolveName('src', 'a.txt')).toBe('src/a.txt');
    expect(resolveName('src', 'lib/a.txt')).toBe('src/lib/a.txt');
  });

  it('drops empty and dot segments', () => {
    expect(resolveName('src', './a.txt')).toBe('src/a.txt');
    expect(resolveName('', 'a//b/')).toBe('a/b');
    expect(resolveName('', '.')).toBe('');
  });
});

describe('findByName', () => {
  const entries = [entry('docs', 'dir'), entry('a.txt'), entry('b.txt'), entry('link', 'symlink')];

  it('finds files, folders and links', () => {
    expect(findByName(entries, ['a.txt']).map((e) => e.path)).toEqual(['a.txt']);
    expect(findByName(entries, ['docs']).map((e) => e.kind)).toEqual(['dir']);
    expect(findByName(entries, ['link', 'b.txt']).map((e) => e.path)).toEqual(['b.txt', 'link']);
  });

  it('matches names exactly', () => {
    expect(findByName(entries, ['A.txt', 'a', 'new.txt'])).toEqual([]);
  });
});

describe('listFolder', () => {
  it('reads every page', async () => {
    const all = Array.from({ length: 7 }, (_, i) => entry(`src/f${i}`));
    const requests: string[] = [];
    const api = {
      request: async <T>(_method: string, path: string) => {
        requests.push(path);
        const query = new URLSearchParams(path.slice(path.indexOf('?') + 1));
        const offset = Number(query.get('offset'));
        // Pages of 3, smaller than the page the client asks for.
        return { entries: all.slice(offset, offset + 3), total: all.length } as T;
      },
    };
    expect((await listFolder(api, 'src')).map((e) => e.path)).toEqual(all.map((e) => e.path));
    expect(requests.length).toBe(3);
    expect(requests[0]).toBe('/api/files/tree?path=src&offset=0&limit=5000');
  });

  it('lists a missing folder as empty', async () => {
    const api = {
      request: async <T>(): Promise<T> => {
        throw new ApiError(404, 'not_found', 'new does not exist');
      },
    };
    expect(await listFolder(api, 'new')).toEqual([]);
  });

  it('raises other errors', async () => {
    const failure = new ApiError(404, 'workspace_missing', 'start the workspace first');
    const api = {
      request: async <T>(): Promise<T> => {
        throw failure;
      },
    };
    await expect(listFolder(api, '')).rejects.toBe(failure);
  });
});
