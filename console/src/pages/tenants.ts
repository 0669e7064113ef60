/** Tenants (platform admin): list, create, offboard, cancel offboarding, shred. */
import { api, seg } from '../api.js';
import { field, h, iso, replace, table } from '../dom.js';
import { setTenant, state } from '../state.js';
import { run, showStatus, tenants, type TenantInfo } from '../ui.js';

export function tenantsPage(root: HTMLElement): void {
  const list = h('div', { id: 'tenant-list' }, h('p', {}, 'Loading tenants…'));
  const confirmBox = h('div', { id: 'tenant-confirm' });

  const idInput = h('input', { type: 'text', name: 'id', required: true, autocomplete: 'off', pattern: '[A-Za-z0-9_.\\-]+' });
  const createBtn = h('button', { type: 'submit' }, 'Create tenant');
  const create = h('form', { class: 'panel', 'aria-labelledby': 'tenant-create-h' },
    h('h3', { id: 'tenant-create-h' }, 'Create a tenant'),
    h('div', { class: 'row' }, field('Tenant id', idInput), createBtn));
  create.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const id = idInput.value.trim();
    void run(async () => {
      const t = await api<TenantInfo>('POST', '/v1/tenants', { body: { id } });
      idInput.value = '';
      showStatus(`Tenant ${t.id} created.`);
      await load();
    }, createBtn);
  });

  async function act(label: string, fn: () => Promise<unknown>): Promise<void> {
    await run(async () => {
      await fn();
      showStatus(label);
      confirmBox.replaceChildren();
      await load();
    });
  }

  function shredConfirm(t: TenantInfo): void {
    const typed = h('input', { type: 'text', name: 'confirm', autocomplete: 'off' });
    const go = h('button', { type: 'submit', class: 'danger', disabled: true }, 'Shred tenant');
    typed.addEventListener('input', () => { go.disabled = typed.value !== t.id; });
    const form = h('form', { class: 'notice', 'aria-labelledby': 'shred-h' },
      h('h3', { id: 'shred-h' }, `Shred tenant ${t.id}`),
      h('p', {}, 'This destroys the tenant\'s keys: every ciphertext of it becomes unreadable, for good. Type the tenant id to confirm.'),
      h('div', { class: 'row' }, field(`Type ${t.id} to confirm`, typed), go,
        h('button', { type: 'button', class: 'secondary', onclick: () => confirmBox.replaceChildren() }, 'Cancel')));
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      if (typed.value !== t.id) return;
      void act(`Tenant ${t.id} shredded.`, () => api('DELETE', `/v1/tenants/${seg(t.id)}`, { query: { confirm: 'true' } }));
    });
    replace(confirmBox, form);
    typed.focus();
  }

  async function load(): Promise<void> {
    const all = await tenants(true);
    if (all.length === 0) {
      replace(list, h('p', {}, 'No tenants yet.'));
      return;
    }
    replace(list, table('Tenants', ['Tenant', 'State', 'Created', 'Data key', 'Index key', 'Actions'], all.map((t) => [
      t.id,
      t.state + (t.state === 'offboarding' && t.shredDueAt ? ` (shred due ${iso(t.shredDueAt)})` : ''),
      iso(t.createdAt),
      `v${t.activeKeyVersion}`,
      `v${t.activeIndexKeyVersion}`,
      h('div', { class: 'row' },
        h('button', { type: 'button', class: 'secondary', 'aria-label': `Open tenant ${t.id}`, disabled: state.tenant === t.id, onclick: () => { setTenant(t.id); location.hash = '#/audit'; } }, state.tenant === t.id ? 'Current' : 'Open'),
        t.state === 'active'
          ? h('button', { type: 'button', class: 'secondary', 'aria-label': `Offboard tenant ${t.id}`, onclick: () => void act(`Tenant ${t.id} is offboarding.`, () => api('POST', `/v1/tenants/${seg(t.id)}/offboard`, { body: {} })) }, 'Offboard')
          : null,
        t.state === 'offboarding'
          ? h('button', { type: 'button', class: 'secondary', 'aria-label': `Cancel offboarding of tenant ${t.id}`, onclick: () => void act(`Offboarding of ${t.id} cancelled.`, () => api('POST', `/v1/tenants/${seg(t.id)}/cancel-offboarding`, { body: {} })) }, 'Cancel offboarding')
          : null,
        t.state !== 'shredded'
          ? h('button', { type: 'button', class: 'danger', 'aria-label': `Shred tenant ${t.id}`, onclick: () => shredConfirm(t) }, 'Shred…')
          : null),
    ])));
  }

  root.append(h('h2', {}, 'Tenants'), create, confirmBox, list);
  void run(load);
}
