// CodeMirror 6 with the language picked from the file name.
import { basicSetup, EditorView } from 'codemirror';
import { Compartment, EditorState, Extension } from '@codemirror/state';
import { keymap } from '@codemirror/view';
import { javascript } from '@codemirror/lang-javascript';
import { python } from '@codemirror/lang-python';
import { rust } from '@codemirror/lang-rust';
import { markdown } from '@codemirror/lang-markdown';
import { json } from '@codemirror/lang-json';
import { oneDark } from '@codemirror/theme-one-dark';

/** Returns the syntax extension for a file name, or none. */
export function languageFor(name: string): Extension {
  const extension = name.split('.').pop()?.toLowerCase() ?? '';
  if (['js', 'mjs', 'cjs', 'jsx'].includes(extension)) return javascript({ jsx: true });
  if (['ts', 'tsx'].includes(extension)) return javascript({ jsx: extension === 'tsx', typescript: true });
  if (extension === 'py') return python();
  if (extension === 'rs') return rust();
  if (['md', 'markdown'].includes(extension)) return markdown();
  if (extension === 'json') return json();
  return [];
}

export interface Editor {
  view: EditorView;
  setTheme(dark: boolean): void;
}

/** Creates an editor in `parent`; `onChange` runs on every edit and `onSave` on Ctrl+S. */
export function createEditor(parent: HTMLElement, name: string, text: string, dark: boolean, onChange: () => void, onSave: () => void): Editor {
  const theme = new Compartment();
  const view = new EditorView({
    parent,
    state: EditorState.create({
      doc: text,
      extensions: [
        keymap.of([{ key: 'Mod-s', preventDefault: true, run: () => (onSave(), true) }]),
        basicSetup,
        languageFor(name),
        theme.of(dark ? oneDark : []),
        EditorView.updateListener.of((update) => update.docChanged && onChange()),
      ],
    }),
  });
  return { view, setTheme: (isDark) => view.dispatch({ effects: theme.reconfigure(isDark ? oneDark : []) }) };
}
