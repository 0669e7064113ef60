// Browser example: UI gating from the same signed bundle the server and the edge use,
// and a form field encrypted in the page before it is sent.
// Run with: serve this folder with the package at ./phylax/ and a ./session.json (see README.md).
import { Engine, Keyring, RootKey } from './phylax/browser.js';

const ACTIONS = ['view', 'update', 'export', 'delete'];
const $ = (id) => document.getElementById(id);

// 1. The session: signed bundle + its public key, the signed-in user and the record on screen.
const session = await (await fetch('./session.json')).json();

// 2. The engine, built only after the bundle's signature verifies.
const engine = Engine.fromBundle(session.bundle, { publicKey: session.publicKey });
$('bundle').textContent = engine.bundleHash.slice(0, 19);
$('user').textContent = `${session.user.id} (${session.user.roles.join(', ')})`;
$('record').textContent = session.record.id;

// 3. One batch call decides every button for this user and record.
const principal = { type: 'User', id: session.user.id };
const resource = { type: 'Record', id: session.record.id };
const { decisions } = engine.authorizeBatch({
  principal, context: { mfa: session.user.mfa },
  entities: [
    { uid: principal, attrs: { tenant: { type: 'Tenant', id: session.user.tenant } }, parents: session.user.roles.map((id) => ({ type: 'Role', id })) },
    { uid: { type: 'User', id: session.record.patient }, attrs: { tenant: { type: 'Tenant', id: session.record.tenant }, providers: session.record.providers.map((id) => ({ type: 'User', id })) }, parents: [{ type: 'Role', id: 'patient' }] },
    { uid: resource, attrs: { tenant: { type: 'Tenant', id: session.record.tenant }, patient: { type: 'User', id: session.record.patient } }, parents: [] },
  ],
  items: ACTIONS.map((id) => ({ action: { type: 'Action', id }, resource })),
});
ACTIONS.forEach((action, i) => {
  const allowed = decisions[i].ok?.decision === 'allow';
  const li = document.createElement('li');
  li.dataset.action = action;
  li.dataset.allowed = String(allowed);
  li.innerHTML = `<button ${allowed ? '' : 'disabled'}>${action}</button>`;
  $('actions').append(li);
});

// 4. Field encryption in the page, with the tenant's stored keyring (wrapped keys only).
//    DEMO ONLY: the dev root key is public. Never ship a real root key to a browser.
const keyring = Keyring.open(session.keyring, RootKey.insecureDevKey());
$('note').addEventListener('submit', (event) => {
  event.preventDefault();
  const text = new FormData(event.target).get('diagnosis');
  $('ciphertext').textContent = keyring.encryptField('patients.diagnosis', session.record.id, text);
  $('status').textContent = 'encrypted';
});
$('status').textContent = 'ready';
