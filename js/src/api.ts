/** The public API, shared by every entry point. */
export { PhylaxError } from './errors.js';
export { initPhylax, initPhylaxSync, isReady } from './runtime.js';
export type { WasmSource } from './runtime.js';
export { Keyring, RootKey } from './keyring.js';
export type { EncryptedRecord, IndexSpec, KeyringState, KeySet, Normalization, RecordSpec } from './keyring.js';
export { Engine, generateSigningKey, signBundle, validatePolicies, verifyBundle } from './engine.js';
export type {
  AuthorizeRequest, BatchRequest, BatchResponse, CedarEntity, Decision, EngineParts, EntityRef, FieldsRequest,
  FieldsResponse, PolicyFile, SignedBundle,
} from './engine.js';
export { issueApiKey, parseApiKey, revokeApiKey, rotateApiKey, signWebhook, TokenVerifier, verifyApiKey, verifyToken, verifyWebhook } from './identity.js';
export type { ApiKeyRecord, Identity, IssuedApiKey, JwtConfig, VerifiedApiKey } from './identity.js';
export { AuditChain } from './audit.js';
export type { AuditEvent, AuditRecord, AuditVerification, ChainHead, PruneRecord } from './audit.js';
export { planToPrisma, planToSql } from './plan.js';
export type { Condition, Plan, PlanRequest, PlanValue, PrismaMapping, SqlFilter, SqlMapping } from './plan.js';
export { DAY_SECONDS, exportWindowEnd, isPastRetention, retentionCutoff } from './retention.js';
export type { TenantInfo, TenantSettings, TenantState } from './retention.js';
