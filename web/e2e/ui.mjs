// Drives Debian's Chromium through the web UI of a running hub. The Rust test
// e2e/tests/web_ui.rs starts the hub and its users, then runs this script with:
//   HUB_URL, USER_NAME, USER_PASSWORD, ADMIN_NAME, ADMIN_PASSWORD, SHOTS (a folder).
// Exits non-zero with a message on the first failed check.
import { chromium } from 'playwright-core';

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const hub = env('HUB_URL');
const shots = env('SHOTS');
const timeout = 20_000;

function check(condition, message) {
  if (!condition) throw new Error(`check failed: ${message}`);
}

async function signIn(page, name, password) {
  await page.goto(hub, { timeout });
  await page.fill('input[name=username]', name);
  await page.fill('input[name=password]', password);
  await page.click('button[type=submit]');
}

const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
try {
  // A user whose browser prefers Chinese.
  const zh = await browser.newContext({ locale: 'zh-CN', viewport: { width: 1100, height: 760 } });
  const page = await zh.newPage();
  const blocked = [];
  page.on('console', (message) => {
    if (message.type() === 'error' && message.text().includes('Content Security Policy')) blocked.push(message.text());
  });
  await page.goto(hub, { timeout });
  await page.getByRole('heading', { name: '登录 cchub' }).waitFor({ timeout });
  await page.screenshot({ path: `${shots}/login-zh.png` });

  await page.fill('input[name=username]', env('USER_NAME'));
  await page.fill('input[name=password]', 'wrong-password');
  await page.click('button[type=submit]');
  await page.getByRole('alert').waitFor({ timeout });
  check((await page.getByRole('alert').textContent()).includes('登录失败'), 'a wrong password shows the Chinese error');

  await signIn(page, env('USER_NAME'), env('USER_PASSWORD'));
  await page.getByRole('heading', { name: '我的工作区' }).waitFor({ timeout });
  await page.getByTestId('pids').waitFor({ timeout });
  check((await page.getByTestId('tier').textContent()) === 'free', 'the user is in tier free');
  check((await page.getByTestId('admin-link').count()) === 0, 'a user sees no admin link');
  await page.getByTestId('live-usage').waitFor({ timeout });
  await page.screenshot({ path: `${shots}/workspace-zh.png` });

  // The user's token does not open the admin API.
  const status = await page.evaluate(async () => {
    const session = JSON.parse(localStorage.getItem('cchub.session'));
    const response = await fetch('/api/admin/users', { headers: { authorization: `Bearer ${session.access}` } });
    return response.status;
  });
  check(status === 403, `the admin API answers 403 to a user, got ${status}`);

  // The switch turns the page English, and the choice survives a reload.
  await page.getByTestId('language').selectOption('en');
  await page.getByRole('heading', { name: 'Your workspace' }).waitFor({ timeout });
  await page.reload();
  await page.getByRole('heading', { name: 'Your workspace' }).waitFor({ timeout });

  // Chat: a run with a tool call streams into a tool card and Markdown text.
  await page.getByTestId('chat-link').click();
  const prompt = page.getByTestId('prompt');
  await prompt.waitFor({ timeout });
  await page.getByTestId('send').waitFor({ timeout });
  // Enter while an input method composes does not send.
  await prompt.fill('拼音');
  await page.evaluate(() => {
    const area = document.querySelector('[data-testid=prompt]');
    area.dispatchEvent(new CompositionEvent('compositionstart', { bubbles: true }));
    area.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true, cancelable: true, isComposing: true }));
    area.dispatchEvent(new CompositionEvent('compositionend', { bubbles: true }));
  });
  check((await prompt.inputValue()) === '拼音', 'Enter during composition keeps the draft');
  // The draft survives a reload.
  await page.reload();
  await prompt.waitFor({ timeout });
  check((await prompt.inputValue()) === '拼音', 'the draft survives a reload');
  await prompt.fill('[[bash: echo tool-ran-$((6*7))]] [[text: **done** 你好]]');
  await prompt.press('Enter');
  await page.getByTestId('tool-card').waitFor({ timeout });
  await page.locator('[data-testid=assistant] strong', { hasText: 'done' }).waitFor({ timeout });
  await page.getByTestId('tool-card').locator('summary').click();
  await page.getByText('tool-ran-42').waitFor({ timeout });
  await page.waitForFunction(() => !document.querySelector('[data-testid=usage]')?.textContent?.includes(': 0 in'), null, { timeout });
  await page.getByTestId('session').first().waitFor({ timeout });
  await page.screenshot({ path: `${shots}/chat-en.png` });
  // A session from the history opens with its messages and takes a follow-up prompt.
  await page.getByTestId('send').waitFor({ timeout });
  await page.getByRole('button', { name: 'New chat' }).click();
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=assistant]').length === 0, null, { timeout });
  await page.getByTestId('session').first().click();
  await page.locator('[data-testid=assistant] strong', { hasText: 'done' }).waitFor({ timeout });
  await prompt.fill('[[text: resumed-$((2+3))]]');
  await prompt.press('Enter');
  await page.locator('[data-testid=assistant]', { hasText: 'resumed-$((2+3))' }).waitFor({ timeout });
  // The next prompt goes once the run has ended and the send button is back.
  await page.getByTestId('send').waitFor({ timeout });
  // A slow run stops with the stop button.
  await prompt.fill('[[delay-ms: 20000]] [[text: too late]]');
  await prompt.press('Enter');
  await page.getByTestId('stop-run').click({ timeout });
  await page.getByText('The run was stopped.').waitFor({ timeout }).catch(async (error) => {
    throw new Error(`${error.message}\nmessages: ${await page.getByTestId('messages').textContent()}`);
  });

  // Files: create, edit, save with Ctrl+S, reload and see the change; upload a file.
  await page.getByTestId('files-link').click();
  page.once('dialog', (dialog) => dialog.accept('notes.md'));
  await page.getByRole('button', { name: 'New file' }).click();
  await page.getByTestId('entry-notes.md').click();
  await page.locator('.cm-content').click();
  await page.keyboard.type('# 标题 saved-$((1))');
  await page.keyboard.press('Control+s');
  await page.getByText('Saved notes.md.').waitFor({ timeout });
  await page.reload();
  await page.getByTestId('entry-notes.md').click();
  await page.locator('.cm-content', { hasText: '# 标题 saved-$((1))' }).waitFor({ timeout });
  await page.getByTestId('upload').setInputFiles({ name: 'data.txt', mimeType: 'text/plain', buffer: Buffer.alloc(300_000, 'x') });
  await page.getByTestId('entry-data.txt').waitFor({ timeout });
  await page.screenshot({ path: `${shots}/files-en.png` });

  // The terminal runs a command with Chinese text in the user's container.
  await page.getByTestId('terminal-link').click();
  await page.getByText('Connected').waitFor({ timeout });
  await page.locator('.xterm-helper-textarea').focus();
  await page.keyboard.type('echo 你好-$((40+2))');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.querySelector('.xterm-rows')?.textContent?.includes('你好-42'), null, { timeout });
  await page.screenshot({ path: `${shots}/terminal-en.png` });
  await page.getByTestId('language').selectOption('en');
  await page.goto(hub, { timeout });

  // An administrator moves the user to pro; the user's page shows the new limits.
  const admin = await browser.newContext({ locale: 'en-US' });
  const adminPage = await admin.newPage();
  await signIn(adminPage, env('ADMIN_NAME'), env('ADMIN_PASSWORD'));
  await adminPage.getByTestId('admin-link').click();
  await adminPage.getByRole('heading', { name: 'Administration' }).waitFor({ timeout });
  await adminPage.getByLabel(`${env('USER_NAME')} tier`).selectOption('pro');
  await adminPage.waitForResponse((r) => r.url().includes('/api/admin/users') && r.request().method() === 'GET', { timeout });
  await adminPage.screenshot({ path: `${shots}/admin-en.png` });
  await adminPage.getByTestId('tab-containers').click();
  await adminPage.getByTestId('containers').getByText(env('USER_NAME')).waitFor({ timeout });
  await adminPage.screenshot({ path: `${shots}/admin-containers-en.png` });
  await adminPage.getByTestId('tab-audit').click();
  await adminPage.getByTestId('audit').getByText('admin.user.set_tier').first().waitFor({ timeout });
  await adminPage.getByTestId('tab-doctor').click();
  await adminPage.getByTestId('doctor').getByText('Seccomp', { exact: false }).first().waitFor({ timeout });
  await adminPage.screenshot({ path: `${shots}/admin-doctor-en.png` });
  await adminPage.getByTestId('tab-usage').click();
  await adminPage.getByTestId('usage-chart').waitFor({ timeout });
  await adminPage.getByTestId('usage-user').selectOption(env('USER_NAME'));
  await adminPage.waitForFunction(() => document.querySelectorAll('[data-testid=usage-chart] rect').length > 0, null, { timeout });
  await adminPage.screenshot({ path: `${shots}/admin-usage-en.png` });

  await page.reload();
  await page.getByTestId('pids').waitFor({ timeout });
  await page.waitForFunction(() => document.querySelector('[data-testid=tier]')?.textContent === 'pro', null, { timeout });
  check((await page.getByTestId('pids').textContent()) === '500', 'pro allows 500 processes');

  // Dark theme and a phone-sized window.
  await page.getByTestId('theme').click();
  await page.setViewportSize({ width: 390, height: 800 });
  await page.screenshot({ path: `${shots}/workspace-en-dark-phone.png` });

  await page.getByTestId('sign-out').click();
  await page.getByRole('heading', { name: 'Sign in to cchub' }).waitFor({ timeout });
  check(blocked.length === 0, `the Content Security Policy blocked something: ${blocked.join('; ')}`);
  console.log('web UI checks passed');
} finally {
  await browser.close();
}
