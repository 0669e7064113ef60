/** Keys: the tenant's active key versions, rotation, and rewrapping ciphertexts to the active version. */
import { api, seg } from '../api.js';
import { download, field, h, replace } from '../dom.js';
import { breakGlassPanel, tenantPage, run, showStatus, type TenantInfo } from '../ui.js';

interface Line {
  field: string;
  recordId: string;
  ciphertext: string;
}

function parseLines(text: string): { lines: { n: number; value: Line | null; raw: string; error?: string }[] } {
  const out: { n: number; value: Line | null; raw: string; error?: string }[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    if (!raw.trim()) return;
    try {
      const v = JSON.parse(raw) as Partial<Line>;
      if (typeof v.field !== 'string' || typeof v.recordId !== 'string' || typeof v.ciphertext !== 'string') {
        out.push({ n: i + 1, value: null, raw, error: 'needs string fields `field`, `recordId` and `ciphertext`' });
      } else {
        out.push({ n: i + 1, value: { field: v.field, recordId: v.recordId, ciphertext: v.ciphertext }, raw });
      }
    } catch (err) {
      out.push({ n: i + 1, value: null, raw, error: `not JSON: ${err instanceof Error ? err.message : String(err)}` });
    }
  });
  return { lines: out };
}

export function keysPage(root: HTMLElement): () => void {
  const picked = tenantPage(root, 'Keys');
  if (picked === null) return () => {};
  const tenant: string = picked;
  const base = `/v1/tenants/${seg(tenant)}`;
  let alive = true;

  const dataVersion = h('dd', { id: 'data-key-version' }, '…');
  const indexVersion = h('dd', { id: 'index-key-version' }, '…');
  const rotate = (kind: 'data' | 'index', label: string) => {
    const b = h('button', { type: 'button' }, label);
    b.addEventListener('click', () => void run(async () => {
      const r = await api<{ kind: string; activeVersion: number }>('POST', `${base}/keys/rotate`, { body: { kind } });
      (kind === 'data' ? dataVersion : indexVersion).textContent = `v${r.activeVersion}`;
      showStatus(`The ${kind} key of ${tenant} is now version ${r.activeVersion}.`);
    }, b));
    return b;
  };

  // Rewrap.
  const input = h('textarea', { id: 'rewrap-input', class: 'code', name: 'ciphertexts', rows: 8, spellcheck: 'false', wrap: 'off', placeholder: '{"field":"patients.diagnosis","recordId":"rec-1","ciphertext":"phx1.…"}' });
  const file = h('input', { type: 'file', name: 'file', accept: '.jsonl,.ndjson,.json,.txt,application/x-ndjson' });
  file.addEventListener('change', () => {
    const f = file.files?.[0];
    if (f) void f.text().then((t) => { input.value = t; });
  });
  const startBtn = h('button', { type: 'button', id: 'rewrap-start' }, 'Rewrap');
  const progress = h('progress', { id: 'rewrap-progress', max: 1, value: 0 });
  const count = h('span', { id: 'rewrap-count' }, '0/0');
  const rewrapped = h('dd', { id: 'rewrap-rewrapped' }, '0');
  const currentCount = h('dd', { id: 'rewrap-current' }, '0');
  const failed = h('dd', { id: 'rewrap-failed' }, '0');
  const failures = h('ul', { id: 'rewrap-failures', class: 'diagnostics' });
  const output = h('textarea', { id: 'rewrap-output', class: 'code', name: 'output', rows: 8, readOnly: true, spellcheck: 'false', wrap: 'off' });
  const downloadBtn = h('button', { type: 'button', class: 'secondary', disabled: true }, 'Download output');
  downloadBtn.addEventListener('click', () => download(new Blob([output.value], { type: 'application/x-ndjson' }), `rewrapped-${tenant}.jsonl`));

  startBtn.addEventListener('click', () => void run(async () => {
    const { lines } = parseLines(input.value);
    const total = lines.length;
    let n = 0;
    let done = 0;
    let same = 0;
    let bad = 0;
    const out: string[] = [];
    progress.max = Math.max(total, 1);
    progress.value = 0;
    failures.replaceChildren();
    output.value = '';
    downloadBtn.disabled = true;
    const tick = () => {
      progress.value = n;
      count.textContent = `${n}/${total}`;
      rewrapped.textContent = String(done);
      currentCount.textContent = String(same);
      failed.textContent = String(bad);
    };
    tick();
    for (const line of lines) {
      if (!alive) return;
      if (!line.value) {
        bad += 1;
        failures.append(h('li', {}, `line ${line.n}: ${line.error}`));
        out.push(line.raw);
      } else {
        try {
          const { needsRewrap } = await api<{ needsRewrap: boolean }>('POST', `${base}/transit/needs-rewrap`, { body: line.value, data: true });
          if (needsRewrap) {
            const { ciphertext } = await api<{ ciphertext: string }>('POST', `${base}/transit/rewrap`, { body: line.value, data: true });
            out.push(JSON.stringify({ ...line.value, ciphertext }));
            done += 1;
          } else {
            out.push(JSON.stringify(line.value));
            same += 1;
          }
        } catch (err) {
          bad += 1;
          const e = err as { code?: string; message?: string };
          failures.append(h('li', {}, `line ${line.n}: ${e.code ?? 'error'}: ${e.message ?? String(err)}`));
          out.push(line.raw);
          if (e.code === 'console.break_glass_reason') throw err;
        }
      }
      n += 1;
      tick();
    }
    output.value = out.length ? `${out.join('\n')}\n` : '';
    downloadBtn.disabled = out.length === 0;
    showStatus(`Rewrap finished: ${done} rewrapped, ${same} already current, ${bad} failed, of ${total}.`);
  }, startBtn));

  const bg = breakGlassPanel('rewrapping decrypts its ciphertexts');
  root.append(
    h('section', { 'aria-labelledby': 'active-h' },
      h('h3', { id: 'active-h' }, 'Active key versions'),
      h('dl', { class: 'facts' }, h('dt', {}, 'Data key'), dataVersion, h('dt', {}, 'Blind index key'), indexVersion),
      h('div', { class: 'row' }, rotate('data', 'Rotate data key'), rotate('index', 'Rotate index key')),
      h('p', { class: 'muted' }, 'Rotation makes a new version active for new ciphertexts; older versions still decrypt. Rewrap old ciphertexts below.')),
    h('section', { 'aria-labelledby': 'rewrap-h' },
      h('h3', { id: 'rewrap-h' }, 'Rewrap ciphertexts'),
      h('p', { class: 'muted' }, 'One JSON object a line: {"field", "recordId", "ciphertext"}. Each is checked, and re-encrypted under the active data key when it is not already.'),
      bg,
      h('div', { class: 'field' }, h('label', { for: 'rewrap-input' }, 'Ciphertexts (JSON Lines)'), input),
      h('div', { class: 'row' }, field('Or load a file', file), startBtn),
      h('div', { class: 'row' }, h('label', { for: 'rewrap-progress' }, 'Progress'), progress, count),
      h('dl', { class: 'facts', 'aria-live': 'polite' }, h('dt', {}, 'Rewrapped'), rewrapped, h('dt', {}, 'Already current'), currentCount, h('dt', {}, 'Failed'), failed),
      failures,
      h('div', { class: 'field' }, h('label', { for: 'rewrap-output' }, 'Output (JSON Lines)'), output),
      downloadBtn));

  void run(async () => {
    const t = await api<TenantInfo>('GET', base);
    if (!alive) return;
    replace(dataVersion, `v${t.activeKeyVersion}`);
    replace(indexVersion, `v${t.activeIndexKeyVersion}`);
  });
  return () => { alive = false; };
}
