/**
 * Policies: versions and their diff, an editor validated in the browser as you type
 * (the same `validatePolicies` call and text the server's PUT uses), a playground deciding
 * a request against the draft and the published version side by side, and publishing.
 */
import { diffLines } from 'diff';
import { api, seg } from '../api.js';
import { debounce, field, h, iso, replace, select } from '../dom.js';
import { loadPhylax, type Decision, type Engine, type PolicyFile, type SignedBundle } from '../phylax.js';
import { tenantPage, run, showError, showStatus } from '../ui.js';

interface PolicyVersion {
  tenant: string;
  version: number;
  createdAt: number;
  policies: PolicyFile[];
}
interface BundleBody {
  schema: string;
  platformPolicies: PolicyFile[];
  tenantPolicies: Record<string, PolicyFile[]>;
  entities: unknown[];
  options?: Record<string, unknown>;
}
interface Diagnostic {
  file: string;
  line: number;
  column: number;
  policy?: string;
  message: string;
}

/** Drafts per tenant, kept while the console is open (never lost to a failed publish). */
const drafts = new Map<string, PolicyFile[]>();
/** The playground request per tenant. */
const requests = new Map<string, string>();

/** At sign-out: the next user starts from the published text. */
export function forgetDrafts(): void {
  drafts.clear();
  requests.clear();
}

function sampleRequest(tenant: string): string {
  const t = { type: 'Tenant', id: tenant };
  return JSON.stringify({
    principal: { type: 'User', id: 'ann' },
    action: { type: 'Action', id: 'delete' },
    resource: { type: 'Record', id: 'rec-1' },
    context: { mfa: true },
    entities: [
      { uid: { type: 'User', id: 'ann' }, attrs: { tenant: t }, parents: [{ type: 'Role', id: 'staff' }] },
      { uid: { type: 'User', id: 'pt-1' }, attrs: { tenant: t }, parents: [{ type: 'Role', id: 'patient' }] },
      { uid: { type: 'Record', id: 'rec-1' }, attrs: { tenant: t, patient: { type: 'User', id: 'pt-1' } }, parents: [] },
    ],
    tenant,
  }, null, 2);
}

function textOf(files: PolicyFile[]): string {
  if (files.length === 1) return files[0].text;
  return files.map((f) => `// ── ${f.name} ──\n${f.text}`).join('\n');
}

function errorText(err: unknown): string {
  if (typeof err === 'object' && err !== null && 'code' in err && 'message' in err) {
    const e = err as { code: string; message: string; hint?: string };
    return `${e.code}: ${e.message}${e.hint ? ` (${e.hint})` : ''}`;
  }
  return err instanceof Error ? err.message : String(err);
}

export function policiesPage(root: HTMLElement): () => void {
  const picked = tenantPage(root, 'Policies');
  if (picked === null) return () => {};
  const tenant: string = picked;
  const base = `/v1/tenants/${seg(tenant)}`;
  let alive = true;

  let versions: PolicyVersion[] = [];
  let current: PolicyVersion | null = null;
  let bundle: SignedBundle | null = null;
  let publicKey = '';
  let files: PolicyFile[] = drafts.get(tenant) ?? [];
  let fileIndex = 0;

  // ── Versions and diff ──
  const versionList = h('div', { id: 'policy-versions' }, h('p', {}, 'Loading versions…'));
  const fromSel = select([], { name: 'from' });
  const toSel = select([], { name: 'to' });
  const diffOut = h('div', { id: 'policy-diff', class: 'diff', role: 'region', 'aria-label': 'Policy diff', tabindex: '0', hidden: true });
  const diffSummary = h('p', { id: 'policy-diff-summary', 'aria-live': 'polite' });
  const diffForm = h('form', { class: 'row' }, field('From version', fromSel), field('To version', toSel),
    h('button', { type: 'submit', class: 'secondary' }, 'Show diff'));
  diffForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    showDiff();
  });

  function textOfChoice(value: string): string {
    if (value === 'draft') return textOf(files);
    return textOf(versions.find((v) => String(v.version) === value)?.policies ?? []);
  }

  function showDiff(): void {
    const a = textOfChoice(fromSel.value);
    const b = textOfChoice(toSel.value);
    const frag = document.createDocumentFragment();
    let added = 0;
    let removed = 0;
    for (const part of diffLines(a, b)) {
      const lines = part.value.replace(/\n$/, '').split('\n');
      for (const line of lines) {
        const [cls, mark] = part.added ? ['diff-add', '+'] : part.removed ? ['diff-del', '-'] : ['diff-same', ' '];
        if (part.added) added += 1;
        if (part.removed) removed += 1;
        frag.appendChild(h('span', { class: cls }, `${mark} ${line}`));
      }
    }
    diffOut.replaceChildren(frag);
    diffOut.hidden = false;
    diffSummary.textContent = `Version ${fromSel.value} → ${toSel.value}: ${added} line${added === 1 ? '' : 's'} added, ${removed} removed.`;
  }

  function renderVersions(): void {
    if (versions.length === 0) {
      replace(versionList, h('p', {}, 'No versions published yet.'));
    } else {
      const body = document.createDocumentFragment();
      for (const v of [...versions].reverse()) {
        body.appendChild(h('tr', {}, h('td', { class: 'num' }, v.version), h('td', {}, iso(v.createdAt)), h('td', {}, v.policies.map((p) => p.name).join(', '))));
      }
      replace(versionList, h('div', { class: 'table-wrap' }, h('table', { id: 'policy-version-table' },
        h('caption', {}, `Policy versions of ${tenant}`),
        h('thead', {}, h('tr', {}, h('th', { scope: 'col', class: 'num' }, 'Version'), h('th', { scope: 'col' }, 'Created'), h('th', { scope: 'col' }, 'Files'))),
        h('tbody', {}, body))));
    }
    const options: [string, string][] = [...versions.map((v): [string, string] => [String(v.version), `v${v.version}`]), ['draft', 'Draft (editor)']];
    const keepFrom = fromSel.value;
    const keepTo = toSel.value;
    replace(fromSel, options.map(([value, text]) => h('option', { value }, text)));
    replace(toSel, options.map(([value, text]) => h('option', { value }, text)));
    const n = versions.length;
    fromSel.value = keepFrom && options.some(([v]) => v === keepFrom) ? keepFrom : n >= 2 ? String(versions[n - 2].version) : n === 1 ? String(versions[0].version) : 'draft';
    toSel.value = keepTo && options.some(([v]) => v === keepTo) ? keepTo : n >= 1 ? String(versions[n - 1].version) : 'draft';
  }

  // ── Editor ──
  const fileSel = select([], { name: 'file' });
  const fileField = field('Policy file', fileSel);
  const editor = h('textarea', { id: 'policy-editor', class: 'code', name: 'policy', spellcheck: 'false', autocomplete: 'off', rows: 18, wrap: 'off' });
  const editorLabel = h('label', { for: 'policy-editor' }, 'Policy text');
  const validation = h('div', { id: 'policy-validation', 'aria-live': 'polite' }, h('p', { class: 'muted' }, 'Loading the policy engine…'));
  const publishBtn = h('button', { type: 'button', id: 'publish' }, 'Publish');
  const resetBtn = h('button', { type: 'button', class: 'secondary' }, 'Reset to published');

  function renderFiles(): void {
    replace(fileSel, files.map((f, i) => h('option', { value: String(i) }, f.name)));
    fileSel.value = String(fileIndex);
    fileField.hidden = files.length <= 1;
    editorLabel.textContent = `Policy text (${files[fileIndex]?.name ?? ''})`;
    editor.value = files[fileIndex]?.text ?? '';
  }
  fileSel.addEventListener('change', () => {
    fileIndex = Number(fileSel.value);
    renderFiles();
  });

  async function validate(): Promise<void> {
    if (!bundle) return;
    const b = bundle.bundle as unknown as BundleBody;
    try {
      const phylax = await loadPhylax();
      const verdict = phylax.validatePolicies({
        schema: b.schema, policies: files, tenant, platformPolicies: b.platformPolicies,
        entities: b.entities, ...(b.options ? { options: b.options } : {}),
      });
      if (!alive) return;
      if (verdict.valid) {
        replace(validation, h('p', { class: 'ok', id: 'policy-valid' }, 'Valid: the draft loads against the schema and the platform policies.'));
      } else {
        const diags = verdict.diagnostics as Diagnostic[];
        replace(validation,
          h('p', { class: 'bad' }, `Invalid: ${diags.length || 1} problem${diags.length > 1 ? 's' : ''}.`),
          h('ul', { id: 'policy-diagnostics', class: 'diagnostics' },
            diags.length > 0
              ? diags.map((d) => h('li', {}, `${d.file}:${d.line}:${d.column}: ${d.message}`))
              : h('li', {}, `${verdict.error?.code ?? 'policy.invalid'}: ${verdict.error?.message ?? ''}`)));
      }
      if (decided) decide();
    } catch (err) {
      if (alive) replace(validation, h('p', { class: 'bad' }, errorText(err)));
    }
  }
  const validateSoon = debounce(() => void validate(), 300);
  editor.addEventListener('input', () => {
    if (!files[fileIndex]) return;
    files[fileIndex] = { name: files[fileIndex].name, text: editor.value };
    drafts.set(tenant, files);
    replace(validation, h('p', { class: 'muted' }, 'Checking…'));
    validateSoon();
  });

  resetBtn.addEventListener('click', () => {
    files = (current?.policies.length ? current.policies : [{ name: `${tenant}.cedar`, text: '' }]).map((f) => ({ ...f }));
    fileIndex = 0;
    drafts.set(tenant, files);
    renderFiles();
    void validate();
  });

  publishBtn.addEventListener('click', () => void run(async () => {
    const published = await api<PolicyVersion>('PUT', `${base}/policies`, { body: { policies: files } });
    showStatus(`Published version ${published.version}.`);
    await loadServer();
    renderVersions();
    if (decided) decide();
  }, publishBtn));

  // ── Playground ──
  const requestBox = h('textarea', { id: 'playground-request', class: 'code', name: 'request', spellcheck: 'false', rows: 16, wrap: 'off' });
  requestBox.value = requests.get(tenant) ?? sampleRequest(tenant);
  requestBox.addEventListener('input', () => requests.set(tenant, requestBox.value));
  const decideBtn = h('button', { type: 'button', id: 'decide' }, 'Decide');
  const sampleBtn = h('button', { type: 'button', class: 'secondary' }, 'Sample request');
  sampleBtn.addEventListener('click', () => {
    requestBox.value = sampleRequest(tenant);
    requests.set(tenant, requestBox.value);
  });
  const column = (key: 'draft' | 'published', title: string) => {
    const els = {
      decision: h('dd', { id: `${key}-decision` }, '—'),
      policies: h('dd', { id: `${key}-policies` }, '—'),
      errors: h('dd', { id: `${key}-errors` }, '—'),
      hash: h('dd', { id: `${key}-bundle`, class: 'mono' }, '—'),
    };
    const section = h('section', { class: 'panel', 'aria-labelledby': `${key}-h` },
      h('h4', { id: `${key}-h` }, title),
      h('dl', { class: 'facts' },
        h('dt', {}, 'Decision'), els.decision,
        h('dt', {}, 'Determining policies'), els.policies,
        h('dt', {}, 'Errors'), els.errors,
        h('dt', {}, 'Bundle'), els.hash));
    return { section, els };
  };
  const draftCol = column('draft', 'Draft');
  const pubCol = column('published', 'Published');
  let decided = false;

  function show(col: typeof draftCol, result: Decision | { error: string }): void {
    if ('error' in result) {
      replace(col.els.decision, h('span', { class: 'bad' }, 'error'));
      col.els.policies.textContent = '—';
      col.els.errors.textContent = result.error;
      col.els.hash.textContent = '—';
      return;
    }
    replace(col.els.decision, h('span', { class: `decision-${result.decision}` }, result.decision));
    col.els.policies.textContent = result.policies.length ? result.policies.join(', ') : 'none';
    col.els.errors.textContent = result.errors.length ? result.errors.map((e) => `${e.policy}: ${e.message}`).join('; ') : 'none';
    col.els.hash.textContent = result.bundleHash || '—';
  }

  function decide(): void {
    void (async () => {
      decided = true;
      let req: Record<string, unknown>;
      try {
        req = JSON.parse(requestBox.value);
      } catch (err) {
        const msg = `request.malformed: the request is not valid JSON: ${err instanceof Error ? err.message : String(err)}`;
        show(draftCol, { error: msg });
        show(pubCol, { error: msg });
        return;
      }
      let phylax: Awaited<ReturnType<typeof loadPhylax>>;
      try {
        phylax = await loadPhylax();
      } catch (err) {
        showError(err);
        return;
      }
      if (!alive || !bundle) return;
      const b = bundle.bundle as unknown as BundleBody;
      const decideWith = (make: () => Engine): Decision | { error: string } => {
        let engine: Engine | undefined;
        try {
          engine = make();
          return engine.authorize(req as never);
        } catch (err) {
          return { error: errorText(err) };
        } finally {
          try { engine?.free(); } catch { /* already gone */ }
        }
      };
      show(draftCol, decideWith(() => phylax.Engine.fromParts({
        schema: b.schema, policies: b.platformPolicies, tenantPolicies: { [tenant]: files }, entities: b.entities as never,
        ...(b.options ? { options: b.options } : {}),
      })));
      const signed = bundle;
      show(pubCol, decideWith(() => phylax.Engine.fromBundle(signed, { publicKey })));
    })();
  }
  decideBtn.addEventListener('click', decide);

  root.append(
    h('section', { 'aria-labelledby': 'versions-h' }, h('h3', { id: 'versions-h' }, 'Versions'), versionList,
      diffForm, diffSummary, diffOut),
    h('section', { 'aria-labelledby': 'editor-h' }, h('h3', { id: 'editor-h' }, 'Editor'),
      h('p', { class: 'muted' }, 'Checked as you type, in this browser, against the tenant\'s schema and platform policies from its signed bundle: the same check the server runs on publish.'),
      fileField, h('div', { class: 'field' }, editorLabel, editor), validation,
      h('div', { class: 'row' }, publishBtn, resetBtn)),
    h('section', { 'aria-labelledby': 'playground-h' }, h('h3', { id: 'playground-h' }, 'Playground'),
      h('p', { class: 'muted' }, 'An authorization request decided in this browser against the draft and against the published version.'),
      h('div', { class: 'field' }, h('label', { for: 'playground-request' }, 'Authorization request (JSON)'), requestBox),
      h('div', { class: 'row' }, decideBtn, sampleBtn),
      h('div', { class: 'cols', id: 'playground-results', 'aria-live': 'polite' }, draftCol.section, pubCol.section)));

  async function loadServer(): Promise<void> {
    const [cur, list, signed] = await Promise.all([
      api<PolicyVersion>('GET', `${base}/policies`),
      api<PolicyVersion[]>('GET', `${base}/policies/versions`),
      api<SignedBundle>('GET', `${base}/bundle`),
    ]);
    if (!publicKey) publicKey = (await api<{ publicKey: string }>('GET', '/v1/bundles/public-key')).publicKey;
    current = cur;
    versions = [...list].sort((a, b) => a.version - b.version);
    bundle = signed;
  }

  void run(async () => {
    const wasm = loadPhylax(); // in parallel with the server calls
    await loadServer();
    if (!alive) return;
    if (files.length === 0) {
      files = (current?.policies.length ? current.policies : [{ name: `${tenant}.cedar`, text: '' }]).map((f) => ({ ...f }));
      drafts.set(tenant, files);
    }
    renderVersions();
    renderFiles();
    await wasm;
    await validate();
  });

  return () => { alive = false; };
}
