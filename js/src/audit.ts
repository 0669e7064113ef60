/** Tamper-evident audit chains: append events, verify records. */
import * as glue from './wasm/phylax.js';
import { call, jsonCall, obj, options as known, PhylaxError, str } from './errors.js';
import { need } from './runtime.js';

export interface AuditEvent {
  tenant: string;
  actor: { id: string; role?: string; sourceIp?: string };
  action: 'view' | 'create' | 'update' | 'delete' | 'export' | 'admin' | 'authorization';
  operation?: string;
  record?: { type: string; id: string };
  time: number;
  outcome: 'success' | 'failure' | 'denied';
  /** Names of changed fields, never values. */
  changedFields?: string[];
  decision?: { bundleHash: string; policyIds: string[]; flags?: string[] };
  reason?: string;
  /** Who wrote the event into the chain; set by the Phylax server, never by a reporter. */
  recordedBy?: { origin: 'server' | 'ingested'; credential: string };
}

export interface ChainHead {
  tenant: string;
  seq: number;
  hash: string;
}

export interface AuditRecord {
  seq: number;
  keyId: string;
  prevHash: string;
  hash: string;
  event: AuditEvent;
}

export interface AuditVerification {
  valid: boolean;
  verified: number;
  head?: ChainHead;
  /** The first fault: kind `modified|missing|reordered|inserted|truncated|wrong_key`, its code and sequence number. */
  fault?: { kind: string; code: string; seq: number; message: string };
}

export class AuditChain {
  readonly #inner: glue.AuditChain;

  private constructor(inner: glue.AuditChain) {
    this.#inner = inner;
  }

  /** A new chain for `tenant`, or one resumed after a stored head (of that tenant). */
  static open(auditKey: string, tenant: string, head?: ChainHead): AuditChain {
    need();
    str('tenant', tenant);
    if (head !== undefined && obj('head', head) && head.tenant !== tenant) {
      // The module would resume the head's chain and ignore `tenant`; refuse instead, as the
      // core's verify refuses a `start` of another tenant.
      throw new PhylaxError('audit.invalid_input', `invalid chain head: it is the head of \`${String(head.tenant)}\`'s chain, not \`${tenant}\`'s`, 'open the chain with the tenant its stored head belongs to');
    }
    const headJson = head === undefined ? undefined : JSON.stringify(head);
    return new AuditChain(call(() => glue.AuditChain.open(str('auditKey', auditKey), str('tenant', tenant), headJson)));
  }

  /** Appends an event; store the returned record. */
  append(event: AuditEvent): AuditRecord {
    return jsonCall(() => this.#inner.append(JSON.stringify(obj('event', event))));
  }

  get head(): ChainHead {
    return jsonCall(() => this.#inner.head());
  }

  /** Verifies stored records under this chain's key (optionally against a signed checkpoint). */
  verify(records: AuditRecord[], options: { start?: ChainHead; checkpoint?: unknown; checkpointPublicKey?: string } = {}): AuditVerification {
    known('options', options, ['start', 'checkpoint', 'checkpointPublicKey']);
    const tenant = this.head.tenant;
    return jsonCall(() => this.#inner.verify(JSON.stringify({ tenant, records, ...options })));
  }

  free(): void {
    this.#inner.free();
  }
}
