// Helpers for the page tests, which render a page in jsdom with a fake API client.

import { ComponentChild, h, render } from 'preact';
import { act } from 'preact/test-utils';
import { vi } from 'vitest';
import { Api } from '../api';
import { AppContext } from '../app';
import { Key, translate } from '../i18n';

/** Renders `page` into a new element of the document, with English strings and `api`, a fake with the methods the page calls. */
export async function renderWithApp(api: object, page: ComponentChild) {
  const host = document.createElement('div');
  document.body.append(host);
  const t = (key: Key, params?: Record<string, string | number>) => translate('en', key, params);
  await act(async () => {
    render(h(AppContext.Provider, { value: { api: api as Api, lang: 'en', t } }, page), host);
  });
  const unmount = () => act(() => render(null, host));
  return { host, unmount };
}

/** Moves the fake clock by `ms` and lets Preact apply the updates. */
export const advance = (ms: number) =>
  act(async () => {
    await vi.advanceTimersByTimeAsync(ms);
  });
