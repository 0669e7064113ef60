/** Sign in: one credential (admin token, API key or JWT), sent once, then dropped. */
import { api } from '../api.js';
import { field, h } from '../dom.js';
import { signedIn } from '../main.js';
import type { Session } from '../state.js';
import { run } from '../ui.js';

export function signInPage(root: HTMLElement): void {
  const input = h('input', { type: 'password', name: 'credential', autocomplete: 'off', required: true, spellcheck: 'false' });
  const submit = h('button', { type: 'submit' }, 'Sign in');
  const form = h('form', { class: 'panel', 'aria-labelledby': 'signin-h' },
    h('h2', { id: 'signin-h' }, 'Sign in'),
    h('p', {}, 'Paste a credential: the platform admin token, a tenant API key (phx_live_…) with an admin scope, or a user JWT of a tenant owner or admin signed in with MFA. It is sent once to open a session and is not kept by this page.'),
    h('div', { class: 'row' }, field('Credential', input), submit));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const credential = input.value.trim();
    input.value = ''; // dropped: only the session cookie (HttpOnly) remains
    if (!credential) return;
    void run(async () => {
      const session = await api<Session>('POST', '/v1/session', { body: {}, headers: { authorization: `Bearer ${credential}` } });
      signedIn(session);
    }, submit);
  });
  root.append(form);
  input.focus();
}
