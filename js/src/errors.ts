/**
 * The one error class Phylax throws. `code` is stable (match on it), `message` says
 * what was wrong, `hint` says how to fix it. Codes come from the Rust core, so the same
 * failure has the same code in Node, at the edge, in the browser and on the server.
 */
export class PhylaxError extends Error {
  readonly code: string;
  readonly hint: string;

  constructor(code: string, message: string, hint: string) {
    super(message);
    this.name = 'PhylaxError';
    this.code = code;
    this.hint = hint;
  }
}

interface ErrorBody {
  code: string;
  message: string;
  hint: string;
}

function isErrorBody(value: unknown): value is ErrorBody {
  return (
    typeof value === 'object' && value !== null &&
    typeof (value as ErrorBody).code === 'string' &&
    typeof (value as ErrorBody).message === 'string'
  );
}

/**
 * What to do when the module traps: set by `runtime.ts` (which owns the instance), so
 * this module does not import the glue's loader.
 */
let onTrap: () => void = () => {};
export function setTrapHandler(handler: () => void): void {
  onTrap = handler;
}

/**
 * Runs a call into WASM, turning whatever it throws into a PhylaxError. A trap
 * (`WebAssembly.RuntimeError`, or the engine's stack limit hit inside WASM) leaves the
 * instance's memory and stack pointer in an unknown state: nothing computed after it
 * could be trusted, so the instance is discarded and a fresh one loaded before the
 * error (`internal.wasm_trap`) is thrown. Objects made before then refuse further use
 * (`internal.instance_discarded`) rather than touch the new instance's memory.
 */
export function call<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof PhylaxError || isErrorBody(err)) throw toPhylaxError(err);
    if (err instanceof WebAssembly.RuntimeError || err instanceof RangeError) {
      onTrap();
      throw new PhylaxError(
        'internal.wasm_trap',
        `the WebAssembly module trapped (${err.message}); its instance was discarded and a fresh one loaded`,
        'create your Engine, Keyring and other objects again; report the input that caused this as a bug',
      );
    }
    throw toPhylaxError(err);
  }
}

/** A call whose request and answer cross as JSON text (the core's JSON call types). */
export function jsonCall(fn: () => string): any {
  return JSON.parse(call(fn));
}

export function toPhylaxError(err: unknown): PhylaxError {
  if (err instanceof PhylaxError) return err;
  if (isErrorBody(err)) return new PhylaxError(err.code, err.message, err.hint ?? '');
  const message = err instanceof Error ? err.message : String(err);
  return new PhylaxError('internal.unexpected', message, 'report this as a bug, with the call that caused it');
}

/**
 * Argument checks, before anything crosses into WASM (wasm-bindgen would silently coerce a
 * number to a string). A value of the wrong type is what the core calls a malformed
 * request, so these throw the core's `request.malformed`, as the same value in a JSON call
 * (the wasm component, the HTTP API) would.
 */
const MALFORMED = 'request.malformed';

export function str(name: string, value: unknown): string {
  if (typeof value !== 'string') {
    throw new PhylaxError(MALFORMED, `\`${name}\` must be a string, not ${typeName(value)}`, `pass \`${name}\` as a string`);
  }
  return wellFormed(name, value);
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Refuses a string with a lone surrogate. Crossing into WASM as UTF-8 would turn it into
 * U+FFFD, so two different ids (`'r\uD800'`, `'r\uDC00'`) would become one binding and
 * a plaintext would not come back as it went in: such a string is refused, never
 * replaced. (Binary data goes through `encryptBytes`.)
 */
export function wellFormed(name: string, value: string): string {
  const ok = typeof (value as { isWellFormed?: () => boolean }).isWellFormed === 'function'
    ? (value as unknown as { isWellFormed: () => boolean }).isWellFormed()
    : !LONE_SURROGATE.test(value);
  if (!ok) {
    const at = value.search(LONE_SURROGATE);
    throw new PhylaxError(MALFORMED, `\`${name}\` is not well-formed Unicode: a lone surrogate at index ${at}`, 'pass text as well-formed UTF-16 (no unpaired surrogates); encrypt binary data with `encryptBytes`');
  }
  return value;
}

/** How deep `toJson` follows objects: past the core's own limit (32), so the core's
 * `limit.nesting_too_deep` answers first, yet far from the JS stack. */
const MAX_JSON_DEPTH = 64;

/** Characters a JSON string literal must escape. */
const NEEDS_ESCAPE = /["\\\u0000-\u001f]/;

/**
 * The JSON text of a request: the one way caller values cross into WASM. It refuses
 * (with `request.malformed` or `limit.nesting_too_deep`, never a raw `TypeError` or
 * `RangeError`) what `JSON.stringify` throws on or silently changes: cycles, nesting past
 * 64 levels, strings with lone surrogates (keys too), non-finite numbers. A `BigInt` is
 * written as its exact digits, so Cedar integers beyond ±2^53 (Cedar's `Long` is 64-bit)
 * pass exactly. `undefined` and functions are left out of objects (and are `null` in
 * arrays), and `toJSON` is honoured, as by `JSON.stringify`, whose output it matches
 * otherwise. The recursion is bounded by the depth limit, so it cannot exhaust the JS
 * stack; a cycle is told apart from deep nesting only once that limit is reached.
 * (It runs on every `authorize`: 612 bytes take ~5 µs, against ~3 µs for `JSON.stringify`.)
 */
export function toJson(name: string, value: unknown): string {
  const path: object[] = [];
  const quote = (s: string): string => {
    wellFormed(name, s);
    return NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : `"${s}"`;
  };
  const write = (input: unknown, depth: number): string | undefined => {
    let v = input;
    if (v !== null && typeof v === 'object' && typeof (v as { toJSON?: unknown }).toJSON === 'function') {
      v = (v as { toJSON: () => unknown }).toJSON();
    }
    switch (typeof v) {
      case 'string':
        return quote(v);
      case 'number':
        if (!Number.isFinite(v)) throw new PhylaxError(MALFORMED, `\`${name}\` holds the number ${v}, which JSON cannot carry`, 'pass finite numbers');
        return String(v);
      case 'bigint':
        return v.toString();
      case 'boolean':
        return v ? 'true' : 'false';
      case 'object':
        break;
      default:
        return undefined; // undefined, functions, symbols
    }
    if (v === null) return 'null';
    const o = v as object;
    if (depth >= MAX_JSON_DEPTH) {
      if (path.includes(o)) throw new PhylaxError(MALFORMED, `\`${name}\` refers to itself (a cycle)`, 'pass plain data without cycles');
      throw new PhylaxError('limit.nesting_too_deep', `\`${name}\` nests more than ${MAX_JSON_DEPTH} levels deep`, 'flatten the value: the core accepts at most 32 levels');
    }
    path.push(o);
    let out: string;
    if (Array.isArray(o)) {
      out = '[';
      for (let i = 0; i < o.length; i += 1) {
        const item = write(o[i], depth + 1);
        out += `${i > 0 ? ',' : ''}${item ?? 'null'}`;
      }
      out += ']';
    } else {
      const rec = o as Record<string, unknown>;
      out = '{';
      let first = true;
      for (const key of Object.keys(rec)) {
        const item = write(rec[key], depth + 1);
        if (item === undefined) continue;
        out += `${first ? '' : ','}${quote(key)}:${item}`;
        first = false;
      }
      out += '}';
    }
    path.pop();
    return out;
  };
  return write(value, 0) ?? 'null';
}

export function bytes(name: string, value: unknown): Uint8Array {
  if (!(value instanceof Uint8Array)) {
    throw new PhylaxError(MALFORMED, `\`${name}\` must be a Uint8Array, not ${typeName(value)}`, `pass \`${name}\` as a Uint8Array`);
  }
  return value;
}

export function uint(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new PhylaxError(MALFORMED, `\`${name}\` must be a non-negative integer, not ${typeName(value)}`, `pass \`${name}\` as a whole number`);
  }
  return value;
}

export function obj(name: string, value: unknown): object {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new PhylaxError(MALFORMED, `\`${name}\` must be an object, not ${typeName(value)}`, `pass \`${name}\` as a plain object`);
  }
  return value;
}

/**
 * An options object whose keys are all known: like the core's request types, which reject
 * unknown fields, a misspelt option (`requiredScope`) fails rather than being ignored.
 */
export function options<T extends object>(name: string, value: T, known: readonly string[]): T {
  obj(name, value);
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) {
      throw new PhylaxError(
        MALFORMED,
        `unknown field \`${key}\` in \`${name}\`, expected one of ${known.map((k) => `\`${k}\``).join(', ')}`,
        'check the option names (camelCase; unknown fields are rejected)',
      );
    }
  }
  return value;
}

/** JSON text given by the caller, parsed; bad text is a malformed request, not a SyntaxError. */
export function parseJson(name: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new PhylaxError(MALFORMED, `\`${name}\` is not valid JSON: ${err instanceof Error ? err.message : String(err)}`, `pass \`${name}\` as an object or as JSON text`);
  }
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined (missing)';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/** Unix seconds now. */
export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}
