/**
 * A small DOM helper: `h('button', { class: 'x', onclick }, 'Text')`. Strings become text
 * nodes (never HTML), so nothing the server or the user sends is parsed as markup. There
 * is deliberately no way to set a `style` attribute (the CSP forbids inline styles): use
 * classes.
 */
export type Child = Node | string | number | null | undefined | false | Child[];

type Handler = (event: Event) => void;
export type Attrs = Record<string, string | number | boolean | Handler | null | undefined>;

/** Properties set as DOM properties rather than attributes. */
const PROPS = new Set(['value', 'checked', 'disabled', 'readOnly', 'required', 'selected', 'multiple', 'hidden']);

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false && !PROPS.has(key)) continue;
    if (key === 'style') throw new Error('style attributes are not allowed (CSP): use a class');
    if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2), value as Handler);
    } else if (PROPS.has(key)) {
      (el as unknown as Record<string, unknown>)[key] = value;
    } else if (key === 'class') {
      el.className = String(value);
    } else if (key === 'for') {
      el.setAttribute('for', String(value));
    } else {
      el.setAttribute(key, value === true ? '' : String(value));
    }
  }
  append(el, children);
  return el;
}

export function append(parent: Node, children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(parent, child);
    else parent.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces an element's children. */
export function replace(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, children);
}

let ids = 0;
/** A unique id for label/control pairs. */
export function uid(prefix: string): string {
  ids += 1;
  return `${prefix}-${ids}`;
}

/** A labelled input: `<div class=field><label for=id>Label</label><input id=id ...></div>`. */
export function field(label: string, control: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement, opts: { inline?: boolean; hint?: string; grow?: boolean } = {}): HTMLDivElement {
  if (!control.id) control.id = uid('f');
  const hintEl = opts.hint ? h('span', { class: 'muted', id: `${control.id}-hint` }, opts.hint) : null;
  if (hintEl) control.setAttribute('aria-describedby', hintEl.id);
  return opts.inline
    ? h('div', { class: 'field inline' }, control, h('label', { for: control.id }, label), hintEl)
    : h('div', { class: opts.grow ? 'field grow' : 'field' }, h('label', { for: control.id }, label), control, hintEl);
}

export function select(options: [string, string][], attrs: Attrs = {}): HTMLSelectElement {
  return h('select', attrs, options.map(([value, text]) => h('option', { value }, text)));
}

/** A table with a caption, column headers and body rows built in a DocumentFragment. */
export function table(caption: string, headers: string[], rows: Child[][], attrs: Attrs = {}): HTMLElement {
  const body = document.createElement('tbody');
  const frag = document.createDocumentFragment();
  for (const row of rows) frag.appendChild(h('tr', {}, row.map((cell) => h('td', {}, cell))));
  body.appendChild(frag);
  return h('div', { class: 'table-wrap' },
    h('table', attrs,
      h('caption', {}, caption),
      h('thead', {}, h('tr', {}, headers.map((t) => h('th', { scope: 'col' }, t)))),
      body));
}

/** ISO 8601 from unix seconds. */
export function iso(secs: number | null | undefined): string {
  if (secs === null || secs === undefined) return '';
  return new Date(secs * 1000).toISOString().replace('.000Z', 'Z');
}

/** Runs `fn` `ms` after the last call. */
export function debounce<A extends unknown[]>(fn: (...args: A) => void, ms: number): (...args: A) => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return (...args: A) => {
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(() => { timer = undefined; fn(...args); }, ms);
  };
}

/** Offers `blob` as a download named `name`. */
export function download(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const a = h('a', { href: url, download: name, class: 'sr-only' }, name);
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
