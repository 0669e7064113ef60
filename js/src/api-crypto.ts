/**
 * The public API of `phylax/crypto`: everything of `phylax` except Cedar (engines, bundles,
 * plans), over a module built without it. Each entry's `api.js` is compiled from its own
 * list (`scripts/build.mjs`), so an entry exports only what its module can do.
 */
export { PhylaxError } from './errors.js';
export { initPhylax, initPhylaxSync, isReady } from './runtime.js';
export type { WasmSource } from './runtime.js';
export { Keyring, RootKey } from './keyring.js';
export type { EncryptedRecord, IndexSpec, KeyringState, KeySet, Normalization, RecordSpec } from './keyring.js';
export { issueApiKey, parseApiKey, revokeApiKey, rotateApiKey, signWebhook, TokenVerifier, verifyApiKey, verifyToken, verifyWebhook } from './identity.js';
export type { ApiKeyRecord, Identity, IssuedApiKey, JwtConfig, VerifiedApiKey } from './identity.js';
export { AuditChain } from './audit.js';
export type { AuditEvent, AuditRecord, AuditVerification, ChainHead, PruneRecord } from './audit.js';
export { DAY_SECONDS, exportWindowEnd, isPastRetention, retentionCutoff } from './retention.js';
export type { TenantInfo, TenantSettings, TenantState } from './retention.js';
