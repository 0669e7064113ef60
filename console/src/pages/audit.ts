/**
 * Audit: the tenant's chain, newest first, 50 a page, filtered on the server; chain
 * verification; JSON Lines and CSV export of the filtered view.
 */
import { api, request, seg } from '../api.js';
import { download, field, h, iso, replace, select } from '../dom.js';
import { isAdmin, state } from '../state.js';
import { breakGlassPanel, tenantPage, run, showStatus } from '../ui.js';

const PAGE = 50;

interface AuditEvent {
  tenant: string;
  actor: { id: string; role?: string; sourceIp?: string };
  action: string;
  operation?: string;
  record?: { type: string; id: string };
  time: number;
  outcome: string;
  changedFields?: string[];
  reason?: string;
}
interface AuditRecord {
  seq: number;
  hash: string;
  event: AuditEvent;
}
interface RecordPage {
  records: AuditRecord[];
  next?: number;
}
interface Verdict {
  valid: boolean;
  records: number;
  head: { seq: number; hash: string } | null;
  error?: { code: string; message: string; hint: string };
  faultSeq?: number;
}

const ACTIONS = ['view', 'create', 'update', 'delete', 'export', 'admin', 'authorization'];
const OUTCOMES = ['success', 'failure', 'denied'];

/** Unix seconds of a datetime-local value (the browser's local time), or undefined. */
function unix(value: string): number | undefined {
  if (!value) return undefined;
  const ms = new Date(value).getTime();
  return Number.isNaN(ms) ? undefined : Math.floor(ms / 1000);
}

export function auditPage(root: HTMLElement): void {
  const picked = tenantPage(root, 'Audit');
  if (picked === null) return;
  const tenant: string = picked;
  const base = `/v1/tenants/${seg(tenant)}/audit`;

  // Filters, submitted as a form.
  const text = (name: string) => h('input', { type: 'text', name, autocomplete: 'off' });
  const f = {
    actor: text('actor'),
    role: text('role'),
    action: select([['', 'Any'], ...ACTIONS.map((a): [string, string] => [a, a])], { name: 'action' }),
    outcome: select([['', 'Any'], ...OUTCOMES.map((o): [string, string] => [o, o])], { name: 'outcome' }),
    operation: text('operation'),
    recordType: text('recordType'),
    recordId: text('recordId'),
    sourceIp: text('sourceIp'),
    from: h('input', { type: 'datetime-local', name: 'from', step: '1' }),
    to: h('input', { type: 'datetime-local', name: 'to', step: '1' }),
  };
  const applyBtn = h('button', { type: 'submit' }, 'Apply filters');
  const filterForm = h('form', { class: 'panel', 'aria-labelledby': 'audit-filters-h' },
    h('h3', { id: 'audit-filters-h' }, 'Filters'),
    h('div', { class: 'row' },
      field('Actor', f.actor), field('Role', f.role), field('Action', f.action), field('Outcome', f.outcome), field('Operation', f.operation)),
    h('div', { class: 'row' },
      field('Record type', f.recordType), field('Record id', f.recordId), field('Source IP', f.sourceIp),
      field('From', f.from), field('To', f.to)),
    h('div', { class: 'row' }, applyBtn,
      h('button', { type: 'reset', class: 'secondary' }, 'Clear filters')));

  function filters(): Record<string, string | number | undefined> {
    return {
      actor: f.actor.value.trim(), role: f.role.value.trim(), action: f.action.value, outcome: f.outcome.value,
      operation: f.operation.value.trim(), recordType: f.recordType.value.trim(), recordId: f.recordId.value.trim(),
      sourceIp: f.sourceIp.value.trim(), from: unix(f.from.value), to: unix(f.to.value),
    };
  }
  // The filters of the view shown: taken when Apply (or Clear) is pressed, so paging and
  // export never mix a half-edited form with the shown pages' cursors.
  let applied = filters();

  // Verification.
  const verifyResult = h('p', { id: 'verify-result', 'aria-live': 'polite' });
  const verifyBtn = h('button', { type: 'button', class: 'secondary' }, 'Verify chain');
  verifyBtn.addEventListener('click', () => void run(async () => {
    replace(verifyResult, 'Verifying…');
    const v = await api<Verdict>('POST', `${base}/verify`, { body: {}, data: true });
    if (v.valid) {
      replace(verifyResult, h('span', { class: 'ok' }, `Chain intact up to seq ${v.head?.seq ?? 0}`), ` (${v.records} records checked)`);
    } else {
      const seq = v.faultSeq ?? Number(/seq(?:uence)?(?: number)? (\d+)/.exec(v.error?.message ?? '')?.[1] ?? NaN);
      replace(verifyResult, h('span', { class: 'bad' }, `Fault at seq ${Number.isNaN(seq) ? '?' : seq}: ${v.error?.code ?? 'unknown'} — ${v.error?.message ?? ''}`));
    }
  }, verifyBtn));

  // Export of the filtered view.
  const exporter = (format: 'jsonl' | 'csv', label: string) => {
    const b = h('button', { type: 'button', class: 'secondary' }, label);
    b.addEventListener('click', () => void run(async () => {
      const res = await request('GET', `${base}/export`, { query: { format, ...applied }, data: true });
      const blob = await res.blob();
      download(blob, `audit-${tenant}.${format}`);
      showStatus(`Exported ${format === 'csv' ? 'CSV' : 'JSON Lines'} (${blob.size} bytes).`);
    }, b));
    return b;
  };

  // The table and pager.
  const tableBody = h('tbody', { id: 'audit-rows' });
  const auditTable = h('div', { class: 'table-wrap' },
    h('table', { id: 'audit-table' },
      h('caption', {}, `Audit events of ${tenant}, newest first`),
      h('thead', {}, h('tr', {}, ['Seq', 'Time', 'Actor', 'Role', 'Source IP', 'Action', 'Operation', 'Outcome', 'Record', 'Changed fields', 'Reason']
        .map((t) => h('th', { scope: 'col' }, t)))),
      tableBody));
  const pageInfo = h('p', { id: 'audit-page-info', 'aria-live': 'polite' });
  const prevBtn = h('button', { type: 'button', class: 'secondary', disabled: true }, 'Previous page');
  const nextBtn = h('button', { type: 'button', class: 'secondary', disabled: true }, 'Next page');
  /** `before` cursors of the pages seen: cursors[i] opens page i (undefined: the newest). */
  let cursors: (number | undefined)[] = [undefined];
  let next: number | undefined;
  let loaded = false;

  /** Only the latest load shows its answer (a slow earlier one must not overwrite it). */
  let latest = 0;
  async function load(): Promise<void> {
    const mine = ++latest;
    const before = cursors[cursors.length - 1];
    const page = await api<RecordPage>('GET', `${base}/events`, { query: { order: 'desc', limit: PAGE, before, ...applied }, data: true });
    if (mine !== latest || !tableBody.isConnected) return;
    loaded = true;
    next = page.next;
    const frag = document.createDocumentFragment();
    for (const r of page.records.slice(0, PAGE)) {
      const e = r.event;
      frag.appendChild(h('tr', { 'data-seq': r.seq },
        h('td', { class: 'num' }, r.seq),
        h('td', {}, iso(e.time)),
        h('td', {}, e.actor.id),
        h('td', {}, e.actor.role ?? ''),
        h('td', {}, e.actor.sourceIp ?? ''),
        h('td', {}, e.action),
        h('td', {}, e.operation ?? ''),
        h('td', {}, e.outcome),
        h('td', {}, e.record ? `${e.record.type}/${e.record.id}` : ''),
        h('td', { class: 'changed' }, (e.changedFields ?? []).join(', ')),
        h('td', {}, e.reason ?? '')));
    }
    tableBody.replaceChildren(frag);
    const n = page.records.length;
    pageInfo.textContent = n === 0
      ? `Page ${cursors.length}: no events${cursors.length === 1 ? ' match' : ' on this page'}.`
      : `Page ${cursors.length}: ${n} event${n === 1 ? '' : 's'}, seq ${page.records[0].seq} to ${page.records[n - 1].seq}.`;
    prevBtn.disabled = cursors.length <= 1;
    nextBtn.disabled = next === undefined;
  }

  filterForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    cursors = [undefined];
    applied = filters();
    void run(load, applyBtn);
  });
  filterForm.addEventListener('reset', () => {
    setTimeout(() => {
      cursors = [undefined];
      applied = filters();
      if (loaded) void run(load);
    }, 0);
  });
  nextBtn.addEventListener('click', () => {
    if (next === undefined) return;
    cursors.push(next);
    void run(load, nextBtn).then(() => { nextBtn.disabled = next === undefined; });
  });
  prevBtn.addEventListener('click', () => {
    if (cursors.length <= 1) return;
    cursors.pop();
    void run(load, prevBtn).then(() => { prevBtn.disabled = cursors.length <= 1; });
  });

  const content = h('div', { id: 'audit-content' },
    filterForm,
    h('div', { class: 'row' }, verifyBtn, exporter('jsonl', 'Export JSON Lines'), exporter('csv', 'Export CSV')),
    verifyResult,
    h('div', { class: 'pager' }, prevBtn, nextBtn, pageInfo),
    auditTable);

  if (isAdmin() && !state.breakGlass) {
    // The reason comes first: nothing of the tenant's data is loaded without it.
    const panel = breakGlassPanel('its audit trail', () => {
      if (!content.isConnected) root.append(content);
      void run(load);
    });
    if (panel) root.append(panel);
  } else {
    const panel = breakGlassPanel('its audit trail');
    if (panel) root.append(panel);
    root.append(content);
    void run(load);
  }
}
