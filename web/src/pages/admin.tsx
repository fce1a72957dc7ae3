import { useEffect, useState } from 'preact/hooks';
import { ApiError, User } from '../api';
import { useApp } from '../app';
import { formatBytes, Key } from '../i18n';
import { dailyTotals } from '../admin/usage';
import { auditExportName, AuditFilters, auditQuery } from '../admin/audit';
import { saveBlob } from '../download';

type Tab = 'users' | 'containers' | 'usage' | 'audit' | 'doctor';
const TABS: Tab[] = ['users', 'containers', 'usage', 'audit', 'doctor'];

function useFailure() {
  const { t } = useApp();
  const [error, setError] = useState<string | null>(null);
  const fail = (e: unknown) => setError(e instanceof ApiError ? e.message : t('error.network'));
  const alert = error && (
    <p class="error" role="alert">
      {error}
    </p>
  );
  return { fail, show: setError, clear: () => setError(null), alert };
}

function Users() {
  const { api, t } = useApp();
  const [users, setUsers] = useState<User[]>([]);
  const [tiers, setTiers] = useState<string[]>([]);
  const [form, setForm] = useState({ username: '', password: '', role: 'user', tier: '' });
  const { fail, clear, alert } = useFailure();
  const load = () => api.request<User[]>('GET', '/api/admin/users').then(setUsers).catch(fail);
  useEffect(() => {
    void load();
    api.request<{ tiers: string[] }>('GET', '/api/options').then((o) => setTiers(o.tiers)).catch(fail);
  }, []);
  const patch = (id: number, body: Record<string, unknown>) =>
    api
      .request('PATCH', `/api/admin/users/${id}`, body)
      .then(() => (clear(), load()))
      .catch(fail);
  const resetPassword = (user: User) => {
    const password = prompt(t('admin.newPassword', { user: user.username }));
    if (password) void api.request('POST', `/api/admin/users/${user.id}/password`, { password }).then(clear).catch(fail);
  };
  const create = (event: Event) => {
    event.preventDefault();
    const body: Record<string, string> = { username: form.username, password: form.password, role: form.role };
    if (form.tier) body.tier = form.tier;
    void api
      .request('POST', '/api/admin/users', body)
      .then(() => (clear(), setForm({ username: '', password: '', role: 'user', tier: '' }), load()))
      .catch(fail);
  };
  const field = (name: keyof typeof form) => (e: Event) => setForm({ ...form, [name]: (e.target as HTMLInputElement).value });
  return (
    <>
      {alert}
      <table>
        <thead>
          <tr>
            <th>{t('login.username')}</th>
            <th>{t('admin.role')}</th>
            <th>{t('workspace.tier')}</th>
            <th>{t('admin.status')}</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {users.map((u) => (
            <tr key={u.id} data-testid={`user-${u.username}`}>
              <td>{u.username}</td>
              <td>
                <select aria-label={`${u.username} role`} value={u.role} onChange={(e) => void patch(u.id, { role: (e.target as HTMLSelectElement).value })}>
                  <option value="user">user</option>
                  <option value="admin">admin</option>
                </select>
              </td>
              <td>
                <select aria-label={`${u.username} tier`} value={u.tier} onChange={(e) => void patch(u.id, { tier: (e.target as HTMLSelectElement).value })}>
                  {(tiers.includes(u.tier) ? tiers : [...tiers, u.tier]).map((name) => (
                    <option value={name}>{name}</option>
                  ))}
                </select>
              </td>
              <td>
                <button type="button" onClick={() => void patch(u.id, { disabled: !u.disabled })}>
                  {u.disabled ? t('admin.enable') : t('admin.disable')}
                </button>
              </td>
              <td>
                <button type="button" onClick={() => resetPassword(u)}>
                  {t('admin.resetPassword')}
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <form class="inline-form" onSubmit={create}>
        <h3>{t('admin.createUser')}</h3>
        <input aria-label={t('login.username')} placeholder={t('login.username')} required value={form.username} onInput={field('username')} />
        <input aria-label={t('login.password')} placeholder={t('login.password')} type="password" required value={form.password} onInput={field('password')} />
        <select aria-label={t('admin.role')} value={form.role} onChange={field('role')}>
          <option value="user">user</option>
          <option value="admin">admin</option>
        </select>
        <select aria-label={t('workspace.tier')} value={form.tier} onChange={field('tier')}>
          <option value="">{t('admin.defaultTier')}</option>
          {tiers.map((name) => (
            <option value={name}>{name}</option>
          ))}
        </select>
        <button type="submit">{t('admin.create')}</button>
      </form>
    </>
  );
}

interface ContainerRow {
  name: string;
  state: string;
  user_id: number | null;
  username: string | null;
  tier: string | null;
  usage: { cpu_cores: number; memory_bytes: number; pids: number } | null;
}

function Containers() {
  const { api, lang, t } = useApp();
  const [rows, setRows] = useState<ContainerRow[] | null>(null);
  const { fail, clear, alert } = useFailure();
  const load = () =>
    api
      .request<{ containers: ContainerRow[] }>('GET', '/api/admin/containers?stats=true')
      .then((body) => setRows(body.containers))
      .catch(fail);
  useEffect(() => void load(), []);
  const act = (row: ContainerRow, action: 'stop' | 'restart' | 'remove') => {
    if (action === 'remove' && !confirm(t('admin.confirmRemove', { user: row.username ?? row.name }))) return;
    const request = action === 'remove' ? api.request('DELETE', `/api/admin/containers/${row.user_id}`) : api.request('POST', `/api/admin/containers/${row.user_id}/${action}`);
    void request.then(() => (clear(), load())).catch(fail);
  };
  const number = new Intl.NumberFormat(lang, { maximumFractionDigits: 2 });
  return (
    <>
      {alert}
      <button type="button" onClick={() => void load()}>
        {t('admin.refresh')}
      </button>
      <table data-testid="containers">
        <thead>
          <tr>
            <th>{t('admin.user')}</th>
            <th>{t('workspace.state')}</th>
            <th>{t('workspace.tier')}</th>
            <th>{t('workspace.cpu')}</th>
            <th>{t('workspace.memory')}</th>
            <th>{t('workspace.pids')}</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {(rows ?? []).map((row) => (
            <tr key={row.name}>
              <td>{row.username ?? row.name}</td>
              <td>{t(`state.${row.state}` as Key)}</td>
              <td>{row.tier}</td>
              <td>{row.usage ? number.format(row.usage.cpu_cores) : ''}</td>
              <td>{row.usage ? formatBytes(lang, row.usage.memory_bytes) : ''}</td>
              <td>{row.usage?.pids ?? ''}</td>
              <td class="row-actions">
                <button type="button" disabled={row.user_id === null} onClick={() => act(row, 'stop')}>{t('workspace.stop')}</button>
                <button type="button" disabled={row.user_id === null} onClick={() => act(row, 'restart')}>{t('admin.restart')}</button>
                <button type="button" disabled={row.user_id === null} onClick={() => act(row, 'remove')}>{t('admin.remove')}</button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

function Usage() {
  const { api, lang, t } = useApp();
  const [rows, setRows] = useState<any[]>([]);
  const [who, setWho] = useState('');
  const { fail, alert } = useFailure();
  useEffect(() => void api.request<{ rows: any[] }>('GET', '/api/admin/usage?days=30').then((b) => setRows(b.rows)).catch(fail), []);
  const days = dailyTotals(who ? rows.filter((row) => row.username === who) : rows);
  const max = Math.max(1, ...days.map((d) => d.tokens));
  const number = new Intl.NumberFormat(lang);
  const perUser = new Map<string, number>();
  for (const row of rows) perUser.set(row.username, (perUser.get(row.username) ?? 0) + row.input_tokens + row.output_tokens + row.cache_creation_tokens + row.cache_read_tokens);
  return (
    <>
      {alert}
      <div class="switches">
        <label for="usage-user">{t('admin.user')}</label>
        <select id="usage-user" data-testid="usage-user" value={who} onChange={(e) => setWho((e.target as HTMLSelectElement).value)}>
          <option value="">{t('admin.allUsers')}</option>
          {[...new Set(rows.map((row) => row.username as string))].map((name) => (
            <option value={name}>{name}</option>
          ))}
        </select>
      </div>
      <svg class="chart" viewBox={`0 0 ${Math.max(days.length, 30) * 24} 120`} preserveAspectRatio="xMinYMax meet" role="img" aria-label={t('admin.tokensByDay')} data-testid="usage-chart">
        {days.map((d, i) => (
          <rect x={i * 24 + 4} y={110 - (d.tokens / max) * 100} width={16} height={(d.tokens / max) * 100}>
            <title>{`${d.day}: ${number.format(d.tokens)}`}</title>
          </rect>
        ))}
      </svg>
      <table>
        <tbody>
          {[...perUser.entries()].map(([name, tokens]) => (
            <tr key={name}>
              <td>{name}</td>
              <td>{number.format(tokens)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

function Audit() {
  const { api, lang, t } = useApp();
  const [rows, setRows] = useState<any[]>([]);
  const [filters, setFilters] = useState<AuditFilters>({ action: '', actor: '', since: '', until: '' });
  const [exporting, setExporting] = useState(false);
  const { fail, show, clear, alert } = useFailure();
  const load = (event?: Event) => {
    event?.preventDefault();
    const query = auditQuery(filters);
    query.set('limit', '500');
    void api.request<any[]>('GET', `/api/admin/audit?${query}`).then((r) => (clear(), setRows(r))).catch(fail);
  };
  useEffect(() => load(), []);
  // The server's export contains every matching row, not only the 500 on screen, and needs
  // the bearer token, so the page fetches it instead of linking to it.
  const exportLines = async () => {
    setExporting(true);
    try {
      saveBlob(await api.download(`/api/admin/audit/export?${auditQuery(filters)}`), auditExportName(new Date()));
      clear();
    } catch (e) {
      show(t('admin.exportFailed', { message: e instanceof ApiError ? e.message : t('error.network') }));
    } finally {
      setExporting(false);
    }
  };
  const field = (name: keyof AuditFilters) => (e: Event) => setFilters({ ...filters, [name]: (e.target as HTMLInputElement).value });
  const time = new Intl.DateTimeFormat(lang, { dateStyle: 'short', timeStyle: 'medium' });
  return (
    <>
      {alert}
      <form class="inline-form" onSubmit={load}>
        <input aria-label={t('admin.action')} placeholder={t('admin.action')} value={filters.action} onInput={field('action')} />
        <input aria-label={t('admin.actor')} placeholder={t('admin.actor')} value={filters.actor} onInput={field('actor')} />
        <label>
          {t('admin.since')} <input type="datetime-local" step={1} data-testid="audit-since" value={filters.since} onInput={field('since')} />
        </label>
        <label>
          {t('admin.until')} <input type="datetime-local" step={1} data-testid="audit-until" value={filters.until} onInput={field('until')} />
        </label>
        <button type="submit">{t('admin.filter')}</button>
        <button type="button" data-testid="audit-export" disabled={exporting} onClick={() => void exportLines()}>
          {t('admin.export')}
        </button>
      </form>
      <table data-testid="audit">
        <tbody>
          {rows.map((row) => (
            <tr key={row.id}>
              <td>{time.format(new Date(row.at))}</td>
              <td>{row.actor}</td>
              <td>{row.action}</td>
              <td>{row.target}</td>
              <td>{row.outcome}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

function Doctor() {
  const { api, t } = useApp();
  const [report, setReport] = useState<{ status: string; checks: { id: string; title: string; status: string; evidence: string }[] } | null>(null);
  const { fail, alert } = useFailure();
  useEffect(() => void api.request<any>('GET', '/api/admin/doctor').then(setReport).catch(fail), []);
  return (
    <>
      {alert}
      {report && (
        <>
          <p>
            {t('admin.overall')}: <span class={`badge ${report.status}`}>{report.status}</span>
          </p>
          <table data-testid="doctor">
            <tbody>
              {report.checks.map((check) => (
                <tr key={check.id}>
                  <td>
                    <span class={`badge ${check.status}`}>{check.status}</span>
                  </td>
                  <td>{check.title}</td>
                  <td class="evidence">{check.evidence}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </>
  );
}

export function Admin({ user }: { user: User }) {
  const { t } = useApp();
  const [tab, setTab] = useState<Tab>('users');
  if (user.role !== 'admin') return <p class="error">{t('admin.forbidden')}</p>;
  return (
    <section class="card">
      <h1>{t('admin.title')}</h1>
      <div class="tabs" role="tablist">
        {TABS.map((name) => (
          <button type="button" role="tab" aria-selected={tab === name} data-testid={`tab-${name}`} onClick={() => setTab(name)}>
            {t(`admin.${name}` as Key)}
          </button>
        ))}
      </div>
      {tab === 'users' && <Users />}
      {tab === 'containers' && <Containers />}
      {tab === 'usage' && <Usage />}
      {tab === 'audit' && <Audit />}
      {tab === 'doctor' && <Doctor />}
    </section>
  );
}
