// Interface strings in English and Chinese (zh-CN). The language comes from the browser
// unless the user picked one, which is kept in localStorage.

export type Lang = 'en' | 'zh-CN';

const en = {
  'app.title': 'cchub',
  'nav.workspace': 'Workspace',
  'nav.admin': 'Admin',
  'nav.signOut': 'Sign out',
  'nav.language': 'Language',
  'nav.theme': 'Theme',
  'theme.light': 'Light',
  'theme.dark': 'Dark',
  'login.title': 'Sign in to cchub',
  'login.username': 'User name',
  'login.password': 'Password',
  'login.submit': 'Sign in',
  'login.busy': 'Signing in…',
  'login.failed': 'Sign-in failed: {message}',
  'workspace.title': 'Your workspace',
  'workspace.state': 'State',
  'workspace.tier': 'Tier',
  'workspace.start': 'Start',
  'workspace.stop': 'Stop',
  'workspace.cpu': 'CPU',
  'workspace.memory': 'Memory',
  'workspace.disk': 'Disk',
  'workspace.pids': 'Processes',
  'workspace.cores': '{value} cores',
  'workspace.tokens': 'Tokens this month',
  'workspace.unlimited': 'unlimited',
  'workspace.restartRequired': 'A restart applies the new security settings of your tier.',
  'workspace.queued': 'The host is at capacity. You are number {position} in the queue; this page asks again by itself.',
  'state.running': 'running',
  'state.paused': 'paused',
  'state.exited': 'stopped',
  'state.created': 'created',
  'state.absent': 'not created yet',
  'state.restarting': 'restarting',
  'error.network': 'The hub cannot be reached. Check your connection and try again.',
  'admin.title': 'Administration',
  'admin.users': 'Users',
  'admin.containers': 'Containers',
  'admin.usage': 'Usage',
  'admin.audit': 'Audit log',
  'admin.doctor': 'Doctor',
  'admin.role': 'Role',
  'admin.status': 'Status',
  'admin.enable': 'Enable',
  'admin.disable': 'Disable',
  'admin.resetPassword': 'Reset password',
  'admin.newPassword': 'New password for {user}:',
  'admin.createUser': 'New user',
  'admin.create': 'Create',
  'admin.defaultTier': 'Default tier',
  'admin.user': 'User',
  'admin.refresh': 'Refresh',
  'admin.restart': 'Restart',
  'admin.remove': 'Remove',
  'admin.confirmRemove': 'Remove the container of {user}? The files stay.',
  'admin.tokensByDay': 'Tokens per day, last 30 days',
  'admin.action': 'Action',
  'admin.actor': 'Actor',
  'admin.filter': 'Filter',
  'admin.export': 'Export JSON lines',
  'admin.overall': 'Overall',
  'admin.allUsers': 'All users',
  'admin.forbidden': 'Only administrators can open this page.',
  'nav.terminal': 'Terminal',
  'terminal.connecting': 'Connecting…',
  'terminal.open': 'Connected',
  'terminal.closed': 'Disconnected',
  'terminal.reconnect': 'Reconnect',
  'terminal.exited': 'The shell ended (exit code {code}).',
  'nav.chat': 'Chat',
  'chat.new': 'New chat',
  'chat.search': 'Search sessions',
  'chat.placeholder': 'Ask Claude Code… (Enter sends, Shift+Enter adds a line)',
  'chat.send': 'Send',
  'chat.stop': 'Stop',
  'chat.model': 'Model',
  'chat.mode': 'Permission mode',
  'chat.defaultModel': 'Default model',
  'chat.usage': 'Tokens: {input} in, {output} out',
  'chat.aborted': 'The run was stopped.',
  'nav.files': 'Files',
  'files.newFile': 'New file',
  'files.newFolder': 'New folder',
  'files.rename': 'Rename',
  'files.delete': 'Delete',
  'files.download': 'Download',
  'files.upload': 'Upload',
  'files.save': 'Save',
  'files.saved': 'Saved {path}.',
  'files.none': 'Open a file from the tree, or drop files here to upload them.',
  'files.binary': 'This file is not text; download it to open it.',
  'files.discard': 'Discard the unsaved changes?',
  'files.newFileName': 'Name of the new file:',
  'files.newFolderName': 'Name of the new folder:',
  'files.renameTo': 'New path:',
  'files.confirmDelete': 'Delete {path}? This cannot be undone.',
  'files.uploaded': 'Uploaded {count} file(s), {size}.',
};

export type Key = keyof typeof en;

const zh: Record<Key, string> = {
  'app.title': 'cchub',
  'nav.workspace': '工作区',
  'nav.admin': '管理',
  'nav.signOut': '退出登录',
  'nav.language': '语言',
  'nav.theme': '主题',
  'theme.light': '浅色',
  'theme.dark': '深色',
  'login.title': '登录 cchub',
  'login.username': '用户名',
  'login.password': '密码',
  'login.submit': '登录',
  'login.busy': '正在登录…',
  'login.failed': '登录失败：{message}',
  'workspace.title': '我的工作区',
  'workspace.state': '状态',
  'workspace.tier': 'tier',
  'workspace.start': '启动',
  'workspace.stop': '停止',
  'workspace.cpu': 'CPU',
  'workspace.memory': '内存',
  'workspace.disk': '磁盘',
  'workspace.pids': '进程数',
  'workspace.cores': '{value} 核',
  'workspace.tokens': '本月 token 用量',
  'workspace.unlimited': '不限',
  'workspace.restartRequired': '重启后才会应用所在 tier 的新安全设置。',
  'workspace.queued': '主机资源已满，你在队列中排第 {position} 位；本页会自动重试。',
  'state.running': '运行中',
  'state.paused': '已暂停',
  'state.exited': '已停止',
  'state.created': '已创建',
  'state.absent': '尚未创建',
  'state.restarting': '正在重启',
  'error.network': '无法连接到 cchub，请检查网络后重试。',
  'admin.title': '系统管理',
  'admin.users': '用户',
  'admin.containers': '容器',
  'admin.usage': '用量',
  'admin.audit': '审计日志',
  'admin.doctor': '安全检查',
  'admin.role': '角色',
  'admin.status': '状态',
  'admin.enable': '启用',
  'admin.disable': '停用',
  'admin.resetPassword': '重置密码',
  'admin.newPassword': '{user} 的新密码：',
  'admin.createUser': '新建用户',
  'admin.create': '创建',
  'admin.defaultTier': '默认 tier',
  'admin.user': '用户',
  'admin.refresh': '刷新',
  'admin.restart': '重启',
  'admin.remove': '删除容器',
  'admin.confirmRemove': '删除 {user} 的容器？文件会保留。',
  'admin.tokensByDay': '最近 30 天每日 token 用量',
  'admin.action': '操作',
  'admin.actor': '操作者',
  'admin.filter': '筛选',
  'admin.export': '导出 JSON lines',
  'admin.overall': '总体',
  'admin.allUsers': '全部用户',
  'admin.forbidden': '只有管理员可以打开此页面。',
  'nav.terminal': '终端',
  'terminal.connecting': '正在连接…',
  'terminal.open': '已连接',
  'terminal.closed': '已断开',
  'terminal.reconnect': '重新连接',
  'terminal.exited': 'shell 已退出（退出码 {code}）。',
  'nav.chat': '对话',
  'chat.new': '新对话',
  'chat.search': '搜索会话',
  'chat.placeholder': '向 Claude Code 提问…（Enter 发送，Shift+Enter 换行）',
  'chat.send': '发送',
  'chat.stop': '停止',
  'chat.model': '模型',
  'chat.mode': '权限模式',
  'chat.defaultModel': '默认模型',
  'chat.usage': 'token：输入 {input}，输出 {output}',
  'chat.aborted': '本次运行已停止。',
  'nav.files': '文件',
  'files.newFile': '新建文件',
  'files.newFolder': '新建文件夹',
  'files.rename': '重命名',
  'files.delete': '删除',
  'files.download': '下载',
  'files.upload': '上传',
  'files.save': '保存',
  'files.saved': '已保存 {path}。',
  'files.none': '从左侧目录树打开文件，或把文件拖到这里上传。',
  'files.binary': '这不是文本文件，请下载后打开。',
  'files.discard': '放弃未保存的修改吗？',
  'files.newFileName': '新文件的名称：',
  'files.newFolderName': '新文件夹的名称：',
  'files.renameTo': '新路径：',
  'files.confirmDelete': '删除 {path}？此操作无法撤销。',
  'files.uploaded': '已上传 {count} 个文件，共 {size}。',
};

export const dictionaries: Record<Lang, Record<Key, string>> = { en, 'zh-CN': zh };

const STORAGE_KEY = 'cchub.lang';

/** Picks zh-CN for any Chinese browser language and English otherwise. */
export function detectLang(languages: readonly string[]): Lang {
  return languages.some((l) => l.toLowerCase().startsWith('zh')) ? 'zh-CN' : 'en';
}

/** Returns the language the user chose before, or the browser's. */
export function initialLang(): Lang {
  const saved = globalThis.localStorage?.getItem(STORAGE_KEY);
  if (saved === 'en' || saved === 'zh-CN') return saved;
  return detectLang(globalThis.navigator?.languages ?? ['en']);
}

export function saveLang(lang: Lang): void {
  globalThis.localStorage?.setItem(STORAGE_KEY, lang);
}

/** Translates `key`, filling `{name}` placeholders from `params`. */
export function translate(lang: Lang, key: Key, params: Record<string, string | number> = {}): string {
  return dictionaries[lang][key].replace(/\{(\w+)\}/g, (_, name: string) => String(params[name] ?? `{${name}}`));
}

/** Formats a byte count in the language's style, in binary units. */
export function formatBytes(lang: Lang, bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const digits = value < 10 && unit > 0 ? 1 : 0;
  return `${new Intl.NumberFormat(lang, { maximumFractionDigits: digits }).format(value)} ${units[unit]}`;
}
