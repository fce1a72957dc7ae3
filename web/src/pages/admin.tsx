import { useEffect, useState } from 'preact/hooks';
import { ApiError, User } from '../api';
import { useApp } from '../app';

// NOTE: a first admin page (users and their tiers); containers, usage charts, the audit
// log and the doctor report are still reached through the API.
export function Admin({ user }: { user: User }) {
  const { api, t } = useApp();
  const [users, setUsers] = useState<User[]>([]);
  const [error, setError] = useState<string | null>(null);
  const tiers = ['free', 'pro', 'enterprise'];

  const load = async () => {
    try {
      setUsers(await api.request<User[]>('GET', '/api/admin/users'));
    } catch (e) {
      setError(e instanceof ApiError ? e.message : t('error.network'));
    }
  };
  useEffect(() => void load(), []);

  if (user.role !== 'admin') return <p class="error">{t('admin.forbidden')}</p>;

  const setTier = async (id: number, tier: string) => {
    try {
      await api.request('PATCH', `/api/admin/users/${id}`, { tier });
      setError(null);
      await load();
    } catch (e) {
      setError(e instanceof ApiError ? e.message : t('error.network'));
    }
  };

  return (
    <section class="card">
      <h1>{t('admin.title')}</h1>
      <h2>{t('admin.users')}</h2>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      <table>
        <tbody>
          {users.map((u) => (
            <tr key={u.id} data-testid={`user-${u.username}`}>
              <td>{u.username}</td>
              <td>{u.role}</td>
              <td>
                <select aria-label={`${u.username} tier`} value={u.tier} onChange={(e) => void setTier(u.id, (e.target as HTMLSelectElement).value)}>
                  {(tiers.includes(u.tier) ? tiers : [...tiers, u.tier]).map((name) => (
                    <option value={name}>{name}</option>
                  ))}
                </select>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
