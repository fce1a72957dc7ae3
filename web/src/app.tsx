import { createContext } from 'preact';
import { useContext, useEffect, useMemo, useState } from 'preact/hooks';
import { Api, User } from './api';
import { initialLang, Key, Lang, saveLang, translate } from './i18n';
import { Login } from './pages/login';
import { Workspace } from './pages/workspace';
import { Admin } from './pages/admin';
import { Terminal } from './pages/terminal';
import { Chat } from './pages/chat';
import { Files } from './pages/files';

type Page = 'workspace' | 'chat' | 'terminal' | 'files' | 'admin';

const PATHS: Record<Page, string> = { workspace: '/', chat: '/chat', terminal: '/terminal', files: '/files', admin: '/admin' };
type Theme = 'light' | 'dark';

interface Context {
  api: Api;
  lang: Lang;
  t: (key: Key, params?: Record<string, string | number>) => string;
}

export const AppContext = createContext<Context>(null as unknown as Context);

export function useApp(): Context {
  return useContext(AppContext);
}

function pageFromPath(path: string): Page {
  if (path.startsWith('/admin')) return 'admin';
  if (path.startsWith('/terminal')) return 'terminal';
  if (path.startsWith('/chat')) return 'chat';
  if (path.startsWith('/files')) return 'files';
  return 'workspace';
}

function initialTheme(): Theme {
  const saved = globalThis.localStorage?.getItem('cchub.theme');
  if (saved === 'light' || saved === 'dark') return saved;
  return globalThis.matchMedia?.('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
}

export function App() {
  const api = useMemo(() => new Api(), []);
  const [user, setUser] = useState<User | null>(api.user);
  const [lang, setLang] = useState<Lang>(initialLang());
  const [theme, setTheme] = useState<Theme>(initialTheme());
  const [page, setPage] = useState<Page>(pageFromPath(location.pathname));
  const t = (key: Key, params?: Record<string, string | number>) => translate(lang, key, params);

  useEffect(() => {
    api.onSignedOut = () => setUser(null);
  }, [api]);
  useEffect(() => {
    document.documentElement.lang = lang;
    document.title = t('app.title');
  }, [lang]);
  useEffect(() => {
    document.documentElement.dataset.theme = theme;
    localStorage.setItem('cchub.theme', theme);
  }, [theme]);
  useEffect(() => {
    const onPop = () => setPage(pageFromPath(location.pathname));
    addEventListener('popstate', onPop);
    return () => removeEventListener('popstate', onPop);
  }, []);

  const go = (next: Page) => {
    history.pushState(null, '', PATHS[next]);
    setPage(next);
  };
  const chooseLang = (next: Lang) => {
    saveLang(next);
    setLang(next);
  };

  const context = { api, lang, t };
  const switcher = (
    <div class="switches">
      <label>
        {t('nav.language')}{' '}
        <select data-testid="language" value={lang} onChange={(e) => chooseLang((e.target as HTMLSelectElement).value as Lang)}>
          <option value="zh-CN">中文</option>
          <option value="en">English</option>
        </select>
      </label>
      <button type="button" data-testid="theme" onClick={() => setTheme(theme === 'dark' ? 'light' : 'dark')}>
        {t('nav.theme')}: {t(theme === 'dark' ? 'theme.dark' : 'theme.light')}
      </button>
    </div>
  );

  if (!user) {
    return (
      <AppContext.Provider value={context}>
        <header class="bar">
          <strong>{t('app.title')}</strong>
          {switcher}
        </header>
        <main>
          <Login onSignedIn={setUser} />
        </main>
      </AppContext.Provider>
    );
  }

  return (
    <AppContext.Provider value={context}>
      <header class="bar">
        <strong>{t('app.title')}</strong>
        <nav>
          <a href="/" aria-current={page === 'workspace' ? 'page' : undefined} onClick={(e) => (e.preventDefault(), go('workspace'))}>
            {t('nav.workspace')}
          </a>
          <a href="/chat" data-testid="chat-link" aria-current={page === 'chat' ? 'page' : undefined} onClick={(e) => (e.preventDefault(), go('chat'))}>
            {t('nav.chat')}
          </a>
          <a href="/terminal" data-testid="terminal-link" aria-current={page === 'terminal' ? 'page' : undefined} onClick={(e) => (e.preventDefault(), go('terminal'))}>
            {t('nav.terminal')}
          </a>
          <a href="/files" data-testid="files-link" aria-current={page === 'files' ? 'page' : undefined} onClick={(e) => (e.preventDefault(), go('files'))}>
            {t('nav.files')}
          </a>
          {user.role === 'admin' && (
            <a href="/admin" data-testid="admin-link" aria-current={page === 'admin' ? 'page' : undefined} onClick={(e) => (e.preventDefault(), go('admin'))}>
              {t('nav.admin')}
            </a>
          )}
        </nav>
        {switcher}
        <span class="who">{user.username}</span>
        <button type="button" data-testid="sign-out" onClick={() => void api.logout().then(() => setUser(null))}>
          {t('nav.signOut')}
        </button>
      </header>
      <main class={page === 'workspace' || page === 'admin' ? undefined : 'wide'}>
        {page === 'admin' && <Admin user={user} />}
        {page === 'terminal' && <Terminal />}
        {page === 'chat' && <Chat />}
        {page === 'files' && <Files dark={theme === 'dark'} />}
        {page === 'workspace' && <Workspace />}
      </main>
    </AppContext.Provider>
  );
}
