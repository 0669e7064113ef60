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

/** Runs a call into WASM, turning whatever it throws into a PhylaxError. */
export function call<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
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
  return value;
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
