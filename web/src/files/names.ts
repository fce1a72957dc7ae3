// Workspace paths and folder listings for the Files page, so it can tell before a write
// whether a name is taken.

import { Api, ApiError } from '../api';

export interface Entry {
  name: string;
  path: string;
  kind: 'file' | 'dir' | 'symlink' | 'other';
  size: number;
}

/** The folder part of a workspace path ('' is the workspace itself). */
export const folderOf = (path: string) => (path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : '');
export const join = (folder: string, name: string) => (folder ? `${folder}/${name}` : name);

/**
 * Returns the workspace path of `name` typed in `folder`, without empty and `.` segments,
 * as the hub reads it. `name` may contain folders ("src/main.rs").
 */
export function resolveName(folder: string, name: string): string {
  return join(folder, name)
    .split('/')
    .filter((segment) => segment !== '' && segment !== '.')
    .join('/');
}

/** Entries per request, the maximum page size of GET /api/files/tree. */
const PAGE_SIZE = 5_000;

interface Listing {
  entries: Entry[];
  total: number;
}

/** Lists every entry of `folder`, page by page. A missing folder lists as empty. */
export async function listFolder(api: Pick<Api, 'request'>, folder: string): Promise<Entry[]> {
  const entries: Entry[] = [];
  for (;;) {
    const query = new URLSearchParams({ path: folder, offset: String(entries.length), limit: String(PAGE_SIZE) });
    let page: Listing;
    try {
      page = await api.request<Listing>('GET', `/api/files/tree?${query}`);
    } catch (error) {
      if (error instanceof ApiError && error.code === 'not_found') return [];
      throw error;
    }
    entries.push(...page.entries);
    if (page.entries.length === 0 || entries.length >= page.total) return entries;
  }
}

/** Returns the entries whose names are in `names`, in the order of `entries`. */
export function findByName(entries: Entry[], names: Iterable<string>): Entry[] {
  const targets = new Set(names);
  return entries.filter((entry) => targets.has(entry.name));
}
