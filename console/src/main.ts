/** The console shell: session bootstrap, header, navigation and hash routing. */
import { api, setSignedOutHandler } from './api.js';
import { h, replace } from './dom.js';
import { auditPage } from './pages/audit.js';
import { apiKeysPage } from './pages/apikeys.js';
import { keysPage } from './pages/keys.js';
import { forgetDrafts, policiesPage } from './pages/policies.js';
import { signInPage } from './pages/signin.js';
import { tenantsPage } from './pages/tenants.js';
import { hasScope, isAdmin, onChange, type Session, state } from './state.js';
import { clearMessages, forgetTenants, run, showError, tenantPicker } from './ui.js';

/** A page renders into its root and may return a cleanup run when leaving it. */
export type Page = (root: HTMLElement) => void | (() => void);

interface Route {
  path: string;
  title: string;
  page: Page;
  allowed: () => boolean;
}

const ROUTES: Route[] = [
  { path: 'audit', title: 'Audit', page: auditPage, allowed: () => hasScope('audit:read') },
  { path: 'policies', title: 'Policies', page: policiesPage, allowed: () => hasScope('policies:write') || hasScope('policies:read') },
  { path: 'api-keys', title: 'API keys', page: apiKeysPage, allowed: () => hasScope('api_keys:manage') },
  { path: 'keys', title: 'Keys', page: keysPage, allowed: () => hasScope('keys:rotate') || hasScope('tenant:read') },
  { path: 'tenants', title: 'Tenants', page: tenantsPage, allowed: () => isAdmin() },
];

let leave: (() => void) | undefined;
/** An error to show on the next page rendered (it survives the navigation). */
let flash: unknown = null;

function current(): string {
  return location.hash.replace(/^#\/?/, '').split('?')[0] ?? '';
}

function defaultRoute(): string {
  if (!state.session) return 'signin';
  if (isAdmin() && !state.tenant) return 'tenants';
  return ROUTES.find((r) => r.allowed())?.path ?? 'signin';
}

export function go(path: string): void {
  if (current() === path) render();
  else location.hash = `#/${path}`;
}

function renderSessionBar(): void {
  const bar = document.getElementById('session-bar') as HTMLElement;
  const s = state.session;
  if (!s) {
    replace(bar, h('p', { class: 'who' }, 'Not signed in'));
    return;
  }
  replace(bar,
    h('p', { class: 'who', id: 'whoami' },
      'Signed in as ', h('strong', { id: 'whoami-actor' }, s.actor),
      ' · ', h('span', { id: 'whoami-kind' }, s.kind === 'admin' ? 'platform admin' : s.kind === 'api_key' ? 'API key' : 'user'),
      ' · tenant ', h('strong', { id: 'whoami-tenant' }, s.tenant ?? 'any (platform)')),
    isAdmin() ? tenantPicker('Tenant') : null,
    h('button', { type: 'button', class: 'secondary', onclick: signOut }, 'Sign out'));
}

function renderNav(): void {
  const nav = document.getElementById('nav') as HTMLElement;
  if (!state.session) {
    replace(nav, h('ul', {}, h('li', {}, h('a', { href: '#/signin', 'aria-current': 'page' }, 'Sign in'))));
    return;
  }
  const here = current();
  replace(nav, h('ul', {}, ROUTES.filter((r) => r.allowed()).map((r) =>
    h('li', {}, h('a', { href: `#/${r.path}`, 'aria-current': r.path === here ? 'page' : null }, r.title)))));
}

function render(): void {
  leave?.();
  leave = undefined;
  clearMessages();
  if (flash) {
    showError(flash);
    flash = null;
  }
  let path = current();
  if (!state.session) path = 'signin';
  let route = ROUTES.find((r) => r.path === path);
  if (state.session && (!route || !route.allowed())) {
    const fallback = defaultRoute();
    if (fallback !== 'signin' && fallback !== path) {
      location.hash = `#/${fallback}`; // hashchange renders
      return;
    }
    route = undefined;
  }
  renderSessionBar();
  renderNav();
  const root = document.getElementById('page') as HTMLElement;
  root.replaceChildren();
  if (state.session && !route) {
    document.title = 'Phylax console';
    root.append(h('h2', {}, 'Nothing to show'), h('p', {}, 'This credential holds no scope the console pages need. Sign out and sign in with another.'));
    return;
  }
  document.title = `${route && state.session ? route.title : 'Sign in'} · Phylax console`;
  try {
    const cleanup = (route && state.session ? route.page : signInPage)(root);
    if (cleanup) leave = cleanup;
  } catch (err) {
    showError(err);
  }
}

export function signedIn(session: Session): void {
  state.session = session;
  state.tenant = session.tenant;
  state.breakGlass = '';
  forgetTenants();
  go(defaultRoute());
}

function signedOutLocally(): void {
  forgetDrafts();
  state.session = null;
  state.tenant = null;
  state.breakGlass = '';
  forgetTenants();
}

async function signOut(): Promise<void> {
  await run(async () => {
    await api('DELETE', '/v1/session');
  });
  signedOutLocally();
  go('signin');
}

setSignedOutHandler(() => {
  signedOutLocally();
  flash = { code: 'auth.session_ended', message: 'the server no longer accepts this console session (expired, signed out elsewhere, or its credential was revoked or rotated)', hint: 'sign in again' };
  go('signin');
});

onChange(() => render());
window.addEventListener('hashchange', () => render());
// The skip link moves focus to the content; as a `#main` hash it would be a route.
document.querySelector('a.skip')?.addEventListener('click', (ev) => {
  ev.preventDefault();
  document.getElementById('main')?.focus();
});

async function boot(): Promise<void> {
  try {
    const session = await api<Session>('GET', '/v1/session');
    state.session = session;
    state.tenant = session.tenant;
  } catch {
    state.session = null;
  }
  const target = !current() || (state.session && current() === 'signin') ? defaultRoute() : current();
  if (target !== current()) location.replace(`#/${target}`); // hashchange renders
  else render();
}

void boot();
