/**
 * A tenant's lifecycle and retention settings, as the Phylax server keeps them
 * (`GET /v1/tenants/{tenant}` and `/settings`), and the rule the server applies, so an
 * app prunes its own rows and plans an offboarding exactly as the server does.
 */
import { PhylaxError } from './errors.js';

/** Seconds in a day: retention and export windows are whole days. */
export const DAY_SECONDS = 86_400;

/** `GET /v1/tenants/{tenant}/settings`. */
export interface TenantSettings {
  /** Audit events older than this many days are pruned (default 2557: seven years). */
  auditRetentionDays: number;
  /** Days between the start of offboarding and the shred (default 90). */
  exportWindowDays: number;
}

/** `active` → `offboarding` (reads and exports only) → `shredded` (keys destroyed). */
export type TenantState = 'active' | 'offboarding' | 'shredded';

/** `GET /v1/tenants/{tenant}`. */
export interface TenantInfo {
  id: string;
  createdAt: number;
  state: TenantState;
  offboardingSince?: number;
  shredDueAt?: number;
  deletedAt?: number;
  activeKeyVersion: number;
  activeIndexKeyVersion: number;
  settings: TenantSettings;
}

function days(name: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > 36_525) {
    throw new PhylaxError('request.invalid', `\`${name}\` must be a whole number of days between ${min} and 36525`, 'pass the settings as the server returns them');
  }
  return value;
}

function seconds(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new PhylaxError('request.invalid', `\`${name}\` must be unix seconds (a non-negative integer)`, 'pass `Math.floor(Date.now() / 1000)`');
  }
  return value;
}

/**
 * The retention cut at `now` (unix seconds): a row whose time is before it is past
 * retention. The server prunes audit events by the same rule.
 */
export function retentionCutoff(settings: TenantSettings, now: number): number {
  const d = days('auditRetentionDays', settings?.auditRetentionDays, 1);
  return Math.max(0, seconds('now', now) - d * DAY_SECONDS);
}

/** Whether a row written at `time` is past the tenant's retention at `now`. */
export function isPastRetention(settings: TenantSettings, time: number, now: number): boolean {
  return seconds('time', time) < retentionCutoff(settings, now);
}

/** When an offboarding started at `since` ends and the tenant is shredded. */
export function exportWindowEnd(settings: TenantSettings, since: number): number {
  return seconds('since', since) + days('exportWindowDays', settings?.exportWindowDays, 0) * DAY_SECONDS;
}
