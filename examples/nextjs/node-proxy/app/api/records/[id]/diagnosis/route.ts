// A route handler on the Node.js runtime that guards itself (proxy.ts does not match this
// path): it authenticates the caller, decides with the policy engine, and encrypts or
// decrypts the record's diagnosis (PHI) with the tenant's keyring. The field is decrypted
// only when the policies let this caller read it.
//
// Settings: PHYLAX_ROOT_KEY (wraps every tenant key; from a secret store) and
// PHYLAX_KEYRINGS (each tenant's stored keyring state: wrapped keys only; stands in for
// the tenants table).
import { Keyring, RootKey, type KeyringState } from 'phylax';
import { authenticate, authorizeRecord, readableFields, refusalResponse } from '../../../../../../shared/phylax';
import { RECORDS } from '../../../../../../shared/records';

export const runtime = 'nodejs';

type Context = { params: Promise<{ id: string }> };

const FIELD = 'records.diagnosis';
const keyrings = new Map<string, Keyring>();

function tenantKeyring(tenant: string): Keyring {
  let keyring = keyrings.get(tenant);
  if (!keyring) {
    const states = JSON.parse(process.env.PHYLAX_KEYRINGS ?? '{}') as Record<string, KeyringState>;
    if (!states[tenant]) throw new Error(`no keyring for tenant ${tenant}`);
    const rootKey = RootKey.parse(process.env.PHYLAX_ROOT_KEY ?? '');
    keyring = Keyring.open(states[tenant], rootKey);
    rootKey.free(); // the opened keyring holds the unwrapped tenant keys; the root key is no longer needed
    keyrings.set(tenant, keyring);
  }
  return keyring;
}

// The encrypted column (record id → `phx1.…` ciphertext): a database table in a real app.
const diagnoses = new Map<string, string>();

/** Stores a diagnosis, encrypted and bound to the tenant, the field and the record. */
export async function PUT(request: Request, { params }: Context) {
  const { id } = await params;
  try {
    const caller = authenticate(request.headers);
    const decision = authorizeRecord(caller, 'update', id);
    const body = (await request.json().catch(() => null)) as { diagnosis?: unknown } | null;
    if (typeof body?.diagnosis !== 'string') {
      return Response.json({ error: { code: 'request.malformed', message: 'send {"diagnosis": "..."}' } }, { status: 400 });
    }
    const stored = tenantKeyring(RECORDS[id].tenant).encryptField(FIELD, id, body.diagnosis);
    diagnoses.set(id, stored);
    return Response.json({ record: id, stored, policies: decision.policies });
  } catch (err) {
    return refusalResponse(err);
  }
}

/** The record's diagnosis, decrypted only if this caller may read the field. */
export async function GET(request: Request, { params }: Context) {
  const { id } = await params;
  try {
    const caller = authenticate(request.headers);
    const decision = authorizeRecord(caller, 'view', id);
    const fields = readableFields(caller, id, ['/diagnosis']);
    const stored = diagnoses.get(id);
    const diagnosis = stored && fields.readable.includes('/diagnosis')
      ? tenantKeyring(RECORDS[id].tenant).decryptField(FIELD, id, stored)
      : undefined;
    return Response.json({ record: id, policies: decision.policies, readable: fields.readable, withheld: fields.denied, diagnosis });
  } catch (err) {
    return refusalResponse(err);
  }
}
