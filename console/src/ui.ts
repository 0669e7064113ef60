/** The shared alert (errors) and status (progress, results) regions, and shared controls. */
import { ApiError, api } from './api.js';
import { field, h, replace, select } from './dom.js';
import { isAdmin, setTenant, state } from './state.js';

function alertEl(): HTMLElement {
  return document.getElementById('alert') as HTMLElement;
}
function statusEl(): HTMLElement {
  return document.getElementById('status') as HTMLElement;
}

/** Shows an error as `code: message` with its hint. Never throws. */
export function showError(err: unknown): void {
  let code = 'console.unexpected';
  let message = String(err);
  let hint = '';
  if (err instanceof ApiError || (typeof err === 'object' && err !== null && 'code' in err && 'message' in err)) {
    const e = err as { code: string; message: string; hint?: string };
    code = e.code;
    message = e.message;
    hint = e.hint ?? '';
  } else if (err instanceof Error) {
    message = err.message;
  }
  replace(alertEl(),
    h('p', {}, h('span', { class: 'code' }, `${code}: `), message),
    hint ? h('p', { class: 'hint' }, hint) : null,
    h('button', { type: 'button', class: 'secondary', onclick: () => clearError() }, 'Dismiss'));
}

export function clearError(): void {
  alertEl().replaceChildren();
}

export function showStatus(message: string): void {
  statusEl().textContent = message;
}

export function clearMessages(): void {
  clearError();
  statusEl().textContent = '';
}

/** Runs an async action, showing its error; a button is disabled meanwhile. */
export async function run<T>(fn: () => Promise<T>, button?: HTMLButtonElement | null): Promise<T | undefined> {
  if (button) button.disabled = true;
  try {
    clearError();
    return await fn();
  } catch (err) {
    showError(err);
    return undefined;
  } finally {
    if (button) button.disabled = false;
  }
}

export interface TenantInfo {
  id: string;
  createdAt: number;
  state: 'active' | 'offboarding' | 'shredded';
  offboardingSince?: number;
  shredDueAt?: number;
  deletedAt?: number;
  activeKeyVersion: number;
  activeIndexKeyVersion: number;
  settings?: { auditRetentionDays: number; exportWindowDays: number };
}

let tenantsCache: TenantInfo[] | null = null;
/** Live tenant pickers, refreshed whenever the list is fetched again. */
const pickers = new Set<HTMLSelectElement>();

function fillPicker(sel: HTMLSelectElement, list: TenantInfo[]): void {
  replace(sel, h('option', { value: '' }, '— choose a tenant —'),
    list.map((t) => h('option', { value: t.id }, `${t.id}${t.state === 'active' ? '' : ` (${t.state})`}`)));
  sel.value = state.tenant ?? '';
}

export async function tenants(refresh = false): Promise<TenantInfo[]> {
  if (!tenantsCache || refresh) {
    tenantsCache = await api<TenantInfo[]>('GET', '/v1/tenants');
    for (const sel of [...pickers]) {
      if (sel.isConnected) fillPicker(sel, tenantsCache);
      else pickers.delete(sel);
    }
  }
  return tenantsCache;
}
export function forgetTenants(): void {
  tenantsCache = null;
}

/** The platform admin's tenant picker (a labelled select). */
export function tenantPicker(label = 'Tenant'): HTMLElement {
  const sel = select([['', '— choose a tenant —']], { name: 'tenant' });
  const wrap = field(label, sel);
  if (!isAdmin()) return wrap;
  pickers.add(sel);
  void tenants().then((list) => fillPicker(sel, list)).catch(showError);
  sel.addEventListener('change', () => setTenant(sel.value || null));
  return wrap;
}

/**
 * The break-glass reason field for the platform admin: data routes need it, and the
 * access is written into the tenant's audit chain. `onSet` runs when a reason is given.
 */
export function breakGlassPanel(what: string, onSet?: () => void): HTMLElement | null {
  if (!isAdmin()) return null;
  // Sent as the `X-Phylax-Break-Glass` header: printable ASCII, one line, at most 1 KiB.
  const input = h('input', { type: 'text', name: 'breakGlassReason', value: state.breakGlass, required: true, autocomplete: 'off', pattern: '[ -~]*', maxlength: 1024 });
  const form = h('form', { class: 'notice', 'aria-label': 'Break-glass access' },
    h('p', {}, h('strong', {}, 'Break-glass access. '),
      `As platform admin you are reaching tenant ${state.tenant ?? ''}'s data (${what}). Every request carries your reason and is recorded in the tenant's audit chain.`),
    h('div', { class: 'row' },
      field('Break-glass reason', input, { hint: 'A ticket id and a sentence, in plain ASCII on one line; never PHI.' }),
      h('button', { type: 'submit' }, 'Use this reason')));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    state.breakGlass = input.value.trim();
    if (state.breakGlass) {
      showStatus('Break-glass reason set: your access to this tenant\'s data is recorded in its audit chain.');
      onSet?.();
    }
  });
  input.addEventListener('input', () => { state.breakGlass = input.checkValidity() ? input.value.trim() : ''; });
  return form;
}

/** A tenant page's heading, then its tenant; without one chosen, a "choose a tenant" panel and null. */
export function tenantPage(root: HTMLElement, title: string): string | null {
  root.append(h('h2', {}, title));
  if (state.tenant) return state.tenant;
  root.append(h('section', { class: 'panel', 'aria-labelledby': 'pick-h' },
    h('h3', { id: 'pick-h' }, 'Choose a tenant'),
    h('p', {}, 'This page works on one tenant. Pick it here or on the Tenants page.'),
    tenantPicker('Tenant to work on')));
  return null;
}
