/** API keys: list, create (the secret shown once), rotate with an overlap, revoke. */
import { api, seg } from '../api.js';
import { field, h, iso, replace, table } from '../dom.js';
import { isAdmin } from '../state.js';
import { breakGlassPanel, tenantPage, run, showStatus } from '../ui.js';

export const SCOPES = ['authorize', 'transit:encrypt', 'transit:decrypt', 'keys:rotate', 'audit:write', 'audit:read', 'policies:read', 'policies:write', 'api_keys:manage', 'tenant:read', 'tenant:export', '*'];
/** Scopes that reach tenant data: a platform admin issuing them needs a break-glass reason. */
const DATA_SCOPES = new Set(['authorize', 'transit:encrypt', 'transit:decrypt', 'audit:write', 'audit:read', 'tenant:export', '*']);

interface ApiKeyRecord {
  keyId: string;
  tenant: string;
  environment: string;
  scopes: string[];
  name?: string;
  createdAt: number;
  expiresAt?: number;
  revokedAt?: number;
  replacedBy?: string;
  overlapUntil?: number;
}

function keyState(k: ApiKeyRecord, now: number): string {
  if (k.revokedAt !== undefined && k.revokedAt <= now) return `revoked ${iso(k.revokedAt)}`;
  if (k.expiresAt !== undefined && k.expiresAt <= now) return `expired ${iso(k.expiresAt)}`;
  if (k.replacedBy !== undefined) {
    return k.overlapUntil !== undefined && k.overlapUntil > now ? `rotating until ${iso(k.overlapUntil)}` : `replaced by ${k.replacedBy}`;
  }
  if (k.revokedAt !== undefined) return `revoked at ${iso(k.revokedAt)}`;
  return 'active';
}

export function apiKeysPage(root: HTMLElement): () => void {
  const picked = tenantPage(root, 'API keys');
  if (picked === null) return () => {};
  const tenant: string = picked;
  const base = `/v1/tenants/${seg(tenant)}/api-keys`;

  const list = h('div', { id: 'api-key-list' }, h('p', {}, 'Loading keys…'));
  const actionBox = h('div', { id: 'api-key-action' });
  const secretBox = h('div', { id: 'api-key-secret-box', 'aria-live': 'polite' });

  /** Shows a new secret once; it goes when the page is left. */
  function showSecret(title: string, secret: string): void {
    const input = h('input', { type: 'text', id: 'new-secret', class: 'secret mono', readOnly: true, value: secret, autocomplete: 'off', spellcheck: 'false' });
    const copyStatus = h('span', { 'aria-live': 'polite', id: 'copy-status' });
    const copy = h('button', { type: 'button', class: 'secondary' }, 'Copy');
    copy.addEventListener('click', () => {
      input.select();
      navigator.clipboard.writeText(secret).then(
        () => { copyStatus.textContent = 'Copied.'; },
        () => { copyStatus.textContent = 'Copy failed: select the text and copy it yourself.'; });
    });
    replace(secretBox, h('section', { class: 'notice', 'aria-labelledby': 'secret-h' },
      h('h3', { id: 'secret-h' }, title),
      h('p', {}, h('strong', {}, 'Shown only this once. '), 'Store it in your secret manager now: the server keeps only its hash, and this page forgets it when you leave.'),
      h('div', { class: 'row' }, field('New API key secret', input, { grow: true }), copy, copyStatus),
      h('button', { type: 'button', class: 'secondary', onclick: () => secretBox.replaceChildren() }, 'I have stored it')));
    input.focus();
    input.select();
  }

  // Create.
  const nameInput = h('input', { type: 'text', name: 'name', autocomplete: 'off' });
  const expiry = h('input', { type: 'date', name: 'expiresAt' });
  const boxes = SCOPES.map((s) => h('input', { type: 'checkbox', name: 'scope', value: s }));
  const createBtn = h('button', { type: 'submit' }, 'Create key');
  const createForm = h('form', { class: 'panel', 'aria-labelledby': 'key-create-h' },
    h('h3', { id: 'key-create-h' }, 'Create a key'),
    h('div', { class: 'row' }, field('Name', nameInput), field('Expires on (optional, UTC)', expiry)),
    h('fieldset', {}, h('legend', {}, 'Scopes'), h('div', { class: 'checks' }, boxes.map((b) => field(b.value === '*' ? '* (every scope)' : b.value, b, { inline: true })))),
    createBtn);
  createForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const scopes = boxes.filter((b) => b.checked).map((b) => b.value);
    const body: Record<string, unknown> = { scopes };
    if (nameInput.value.trim()) body.name = nameInput.value.trim();
    if (expiry.value) body.expiresAt = Math.floor(Date.parse(`${expiry.value}T23:59:59Z`) / 1000);
    const data = isAdmin() && scopes.some((s) => DATA_SCOPES.has(s));
    void run(async () => {
      const issued = await api<{ apiKey: string; record: ApiKeyRecord }>('POST', base, { body, data });
      showSecret(`New key ${issued.record.keyId}`, issued.apiKey);
      createForm.reset();
      showStatus(`Key ${issued.record.keyId} created.`);
      await load();
    }, createBtn);
  });

  function rotateForm(k: ApiKeyRecord): void {
    const overlap = h('input', { type: 'number', name: 'overlapSeconds', min: '0', step: '1', value: '3600', required: true });
    const go = h('button', { type: 'submit' }, 'Rotate key');
    const form = h('form', { class: 'panel', 'aria-labelledby': 'rotate-h' },
      h('h3', { id: 'rotate-h' }, `Rotate key ${k.keyId}`),
      h('p', {}, 'A new secret replaces this key; the old one keeps working for the overlap, then is refused.'),
      h('div', { class: 'row' }, field('Overlap (seconds)', overlap), go,
        h('button', { type: 'button', class: 'secondary', onclick: () => actionBox.replaceChildren() }, 'Cancel')));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      void run(async () => {
        const issued = await api<{ apiKey: string; record: ApiKeyRecord }>('POST', `${base}/${seg(k.keyId)}/rotate`, { body: { overlapSeconds: Number(overlap.value) }, data: isAdmin() && k.scopes.some((s) => DATA_SCOPES.has(s)) });
        actionBox.replaceChildren();
        showSecret(`Key ${k.keyId} rotated: new key ${issued.record.keyId}`, issued.apiKey);
        showStatus(`Key ${k.keyId} rotated to ${issued.record.keyId}.`);
        await load();
      }, go);
    });
    replace(actionBox, form);
    overlap.focus();
  }

  function revokeForm(k: ApiKeyRecord): void {
    const go = h('button', { type: 'button', class: 'danger' }, 'Confirm revoke');
    go.addEventListener('click', () => void run(async () => {
      await api('DELETE', `${base}/${seg(k.keyId)}`);
      actionBox.replaceChildren();
      showStatus(`Key ${k.keyId} revoked.`);
      await load();
    }, go));
    replace(actionBox, h('section', { class: 'notice', 'aria-labelledby': 'revoke-h' },
      h('h3', { id: 'revoke-h' }, `Revoke key ${k.keyId}?`),
      h('p', {}, 'Every request with it is refused from now on. This cannot be undone.'),
      h('div', { class: 'row' }, go, h('button', { type: 'button', class: 'secondary', onclick: () => actionBox.replaceChildren() }, 'Cancel'))));
    go.focus();
  }

  async function load(): Promise<void> {
    const keys = await api<ApiKeyRecord[]>('GET', base);
    const now = Math.floor(Date.now() / 1000);
    if (keys.length === 0) {
      replace(list, h('p', {}, 'No keys yet.'));
      return;
    }
    replace(list, table(`API keys of ${tenant}`, ['Key id', 'Name', 'Scopes', 'Created', 'Expires', 'State', 'Actions'], keys.map((k) => {
      const st = keyState(k, now);
      const usable = st === 'active' || st.startsWith('rotating');
      return [
        h('span', { class: 'mono' }, k.keyId), k.name ?? '', k.scopes.join(', '), iso(k.createdAt), k.expiresAt ? iso(k.expiresAt) : 'never',
        h('span', { 'data-key-state': k.keyId }, st),
        usable ? h('div', { class: 'row' },
          st === 'active' ? h('button', { type: 'button', class: 'secondary', 'aria-label': `Rotate key ${k.keyId}`, onclick: () => rotateForm(k) }, 'Rotate…') : null,
          h('button', { type: 'button', class: 'danger', 'aria-label': `Revoke key ${k.keyId}`, onclick: () => revokeForm(k) }, 'Revoke…')) : '',
      ];
    }), { id: 'api-key-table' }));
  }

  const bg = breakGlassPanel('issuing keys with data scopes');
  root.append(secretBox, ...(bg ? [bg] : []), createForm, actionBox, list);
  void run(load);
  return () => {
    // The secret never outlives the page.
    const input = document.getElementById('new-secret') as HTMLInputElement | null;
    if (input) input.value = '';
    secretBox.replaceChildren();
  };
}
