import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from '../api';
import { useApp } from '../app';
import { saveBlob } from '../download';
import { createEditor, Editor } from '../files/editor';
import { Entry, findByName, folderOf, join, listFolder, resolveName } from '../files/names';
import { formatBytes } from '../i18n';

interface OpenFile {
  path: string;
  binary: boolean;
}

/** Returns the tree marker of an entry: an arrow for a folder, spaces for a file. */
function marker(entry: Entry, isOpen: boolean): string {
  if (entry.kind !== 'dir') return '  ';
  return isOpen ? '▾ ' : '▸ ';
}

function Folder({ path, depth, onOpen, reloadKey }: { path: string; depth: number; onOpen: (entry: Entry) => void; reloadKey: number }) {
  const { api } = useApp();
  const [entries, setEntries] = useState<Entry[] | null>(null);
  const [open, setOpen] = useState<Record<string, boolean>>({});
  useEffect(() => {
    api
      .request<{ entries: Entry[] }>('GET', `/api/files/tree?path=${encodeURIComponent(path)}`)
      .then((body) => setEntries(body.entries))
      .catch(() => setEntries([]));
  }, [path, reloadKey]);
  if (!entries) return null;
  return (
    <ul class="tree" role={depth === 0 ? 'tree' : 'group'}>
      {entries.map((entry) => (
        <li key={entry.path} role="treeitem" aria-expanded={entry.kind === 'dir' ? !!open[entry.path] : undefined}>
          <button
            type="button"
            data-testid={`entry-${entry.path}`}
            onClick={() => (entry.kind === 'dir' ? setOpen({ ...open, [entry.path]: !open[entry.path] }) : onOpen(entry))}
          >
            {marker(entry, !!open[entry.path])}
            {entry.name}
          </button>
          {entry.kind === 'dir' && open[entry.path] && <Folder path={entry.path} depth={depth + 1} onOpen={onOpen} reloadKey={reloadKey} />}
        </li>
      ))}
    </ul>
  );
}

export function Files({ dark }: { dark: boolean }) {
  const { api, lang, t } = useApp();
  const [file, setFile] = useState<OpenFile | null>(null);
  const [selected, setSelected] = useState<Entry | null>(null);
  const [dirty, setDirty] = useState(false);
  const [message, setMessage] = useState<string | null>(null);
  const [progress, setProgress] = useState<number | null>(null);
  const [reloadKey, setReloadKey] = useState(0);
  const host = useRef<HTMLDivElement>(null);
  const editor = useRef<Editor | null>(null);
  const dirtyRef = useRef(false);
  dirtyRef.current = dirty;

  const fail = (e: unknown) => setMessage(e instanceof ApiError ? e.message : t('error.network'));
  const reload = () => setReloadKey((k) => k + 1);

  useEffect(() => {
    const warn = (event: BeforeUnloadEvent) => {
      if (dirtyRef.current) event.preventDefault();
    };
    addEventListener('beforeunload', warn);
    return () => removeEventListener('beforeunload', warn);
  }, []);
  useEffect(() => editor.current?.setTheme(dark), [dark]);

  const save = async () => {
    if (!file || !editor.current) return;
    try {
      await api.request('PUT', `/api/files/content?path=${encodeURIComponent(file.path)}`, { content: editor.current.view.state.doc.toString() });
      setDirty(false);
      setMessage(t('files.saved', { path: file.path }));
    } catch (e) {
      fail(e);
    }
  };

  const openFile = async (entry: Entry) => {
    if (dirtyRef.current && !confirm(t('files.discard'))) return;
    setSelected(entry);
    try {
      const body = await api.request<{ content: string; encoding: string }>('GET', `/api/files/content?path=${encodeURIComponent(entry.path)}`);
      editor.current?.view.destroy();
      editor.current = null;
      setDirty(false);
      const binary = body.encoding !== 'utf-8';
      setFile({ path: entry.path, binary });
      if (!binary && host.current) {
        editor.current = createEditor(host.current, entry.name, body.content, dark, () => setDirty(true), () => void saveRef.current());
      }
    } catch (e) {
      fail(e);
    }
  };
  const saveRef = useRef(save);
  saveRef.current = save;

  let folder = '';
  if (selected) folder = selected.kind === 'dir' ? selected.path : folderOf(selected.path);
  const act = async (work: () => Promise<unknown>) => {
    try {
      await work();
      setMessage(null);
      reload();
    } catch (e) {
      fail(e);
    }
  };
  // PUT /api/files/content replaces an existing file, so the page looks for the name first.
  // NOTE: a file created between this check and the PUT is still replaced.
  const newFile = async () => {
    const name = prompt(t('files.newFileName'));
    const path = name ? resolveName(folder, name) : '';
    if (!path) return;
    const base = path.slice(path.lastIndexOf('/') + 1);
    try {
      if (findByName(await listFolder(api, folderOf(path)), [base]).length > 0) {
        setMessage(t('files.exists', { path }));
        return;
      }
    } catch (e) {
      fail(e);
      return;
    }
    await act(() => api.request('PUT', `/api/files/content?path=${encodeURIComponent(path)}`, { content: '' }));
  };
  const newFolder = () => {
    const name = prompt(t('files.newFolderName'));
    if (name) void act(() => api.request('POST', '/api/files/mkdir', { path: join(folder, name) }));
  };
  const rename = () => {
    if (!selected) return;
    const to = prompt(t('files.renameTo'), selected.path);
    if (to && to !== selected.path) void act(() => api.request('POST', '/api/files/rename', { from: selected.path, to }));
  };
  const remove = () => {
    if (!selected || !confirm(t('files.confirmDelete', { path: selected.path }))) return;
    const recursive = selected.kind === 'dir' ? '&recursive=true' : '';
    void act(() => api.request('DELETE', `/api/files?path=${encodeURIComponent(selected.path)}${recursive}`)).then(() => {
      if (file?.path === selected.path) {
        editor.current?.view.destroy();
        editor.current = null;
        setFile(null);
      }
      setSelected(null);
    });
  };
  const download = async () => {
    if (!selected || selected.kind !== 'file') return;
    try {
      saveBlob(await api.download(`/api/files/download?path=${encodeURIComponent(selected.path)}`), selected.name);
    } catch (e) {
      fail(e);
    }
  };
  const upload = async (files: File[]) => {
    if (files.length === 0) return;
    try {
      const replaced = findByName(await listFolder(api, folder), files.map((f) => f.name)).filter((entry) => entry.kind !== 'dir');
      if (replaced.length > 0 && !confirm(t('files.confirmReplace', { names: replaced.map((entry) => entry.path).join('\n') }))) return;
    } catch (e) {
      fail(e);
      return;
    }
    setProgress(0);
    try {
      await api.upload(folder, files, setProgress);
      setMessage(t('files.uploaded', { count: files.length, size: formatBytes(lang, files.reduce((sum, f) => sum + f.size, 0)) }));
      reload();
    } catch (e) {
      fail(e);
    } finally {
      setProgress(null);
    }
  };

  return (
    <section
      class="files-page"
      onDragOver={(e) => e.preventDefault()}
      onDrop={(e) => {
        e.preventDefault();
        void upload(Array.from(e.dataTransfer?.files ?? []));
      }}
    >
      <aside class="file-tree">
        <div class="file-actions">
          <button type="button" onClick={() => void newFile()}>{t('files.newFile')}</button>
          <button type="button" onClick={newFolder}>{t('files.newFolder')}</button>
          <button type="button" disabled={!selected} onClick={rename}>{t('files.rename')}</button>
          <button type="button" disabled={!selected} onClick={remove}>{t('files.delete')}</button>
          <button type="button" disabled={selected?.kind !== 'file'} onClick={() => void download()}>{t('files.download')}</button>
          <label class="upload">
            {t('files.upload')}
            <input
              type="file"
              multiple
              data-testid="upload"
              onChange={(e) => {
                const input = e.target as HTMLInputElement;
                const files = Array.from(input.files ?? []);
                // Cleared, so choosing the same files again after a cancel fires onChange.
                input.value = '';
                void upload(files);
              }}
            />
          </label>
        </div>
        {progress !== null && <progress data-testid="upload-progress" max={1} value={progress} />}
        <Folder path="" depth={0} onOpen={(entry) => void openFile(entry)} reloadKey={reloadKey} />
      </aside>
      <div class="file-view">
        <div class="file-bar">
          <span data-testid="open-file">{file ? `${file.path}${dirty ? ' •' : ''}` : t('files.none')}</span>
          {message && <span class="notice" role="status">{message}</span>}
          <button type="button" data-testid="save" disabled={!file || file.binary || !dirty} onClick={() => void save()}>
            {t('files.save')}
          </button>
        </div>
        {file?.binary && <p>{t('files.binary')}</p>}
        <div class="editor" ref={host} data-testid="editor" />
      </div>
    </section>
  );
}
