/** Tamper-evident audit chains: append events, verify records. */
import * as glue from './wasm/phylax.js';
import { call, obj, options as known, PhylaxError, str, toJson } from './errors.js';
import { alive, currentEpoch, need } from './runtime.js';

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

/**
 * A signed record of a retention prune (the Phylax server's `audit.prune`): the
 * tenant's events before `firstKeptSeq` were deleted on purpose; what remains verifies
 * from `prevHash`. Pass it to {@link AuditChain.verify} with the signer's public key.
 */
export interface PruneRecord {
  tenant: string;
  firstKeptSeq: number;
  prevHash: string;
  keyId: string;
  time: number;
  signature: string;
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
  readonly #epoch = currentEpoch();

  private constructor(inner: glue.AuditChain) {
    this.#inner = inner;
  }

  /** Runs `fn` on the WASM chain, if it still belongs to the current instance. */
  #use<T>(fn: (inner: glue.AuditChain) => T): T {
    return call(() => {
      alive(this.#epoch);
      return fn(this.#inner);
    });
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
    return new AuditChain(call(() => {
      const headJson = head === undefined ? undefined : toJson('head', head);
      return glue.AuditChain.open(str('auditKey', auditKey), str('tenant', tenant), headJson);
    }));
  }

  /** Appends an event; store the returned record. */
  append(event: AuditEvent): AuditRecord {
    return this.#use((inner) => JSON.parse(inner.append(toJson('event', obj('event', event)))));
  }

  get head(): ChainHead {
    return this.#use((inner) => JSON.parse(inner.head()));
  }

  /**
   * Verifies stored records under this chain's key, optionally against a signed
   * checkpoint, and from a signed prune record when the chain was pruned at retention
   * (`checkpointPublicKey` is the signer's key for both).
   */
  verify(
    records: AuditRecord[],
    options: { start?: ChainHead; checkpoint?: unknown; checkpointPublicKey?: string; prune?: PruneRecord } = {},
  ): AuditVerification {
    known('options', options, ['start', 'checkpoint', 'checkpointPublicKey', 'prune']);
    const tenant = this.head.tenant;
    return this.#use((inner) => JSON.parse(inner.verify(toJson('records', { tenant, records, ...options }))));
  }

  free(): void {
    this.#use((inner) => inner.free());
  }
}
