/** What the console knows: the session (csrf in memory only), the chosen tenant, the break-glass reason. */
export interface Session {
  csrf: string;
  kind: 'admin' | 'api_key' | 'user';
  actor: string;
  tenant: string | null;
  scopes: string[];
  expiresAt: number;
}

export const state: {
  session: Session | null;
  /** The tenant the pages work on: the credential's own, or the platform admin's pick. */
  tenant: string | null;
  /** The platform admin's break-glass reason for the current tenant (memory only). */
  breakGlass: string;
} = { session: null, tenant: null, breakGlass: '' };

export function isAdmin(): boolean {
  return state.session?.kind === 'admin';
}

/** Whether the session holds `scope` (or `*`). */
export function hasScope(scope: string): boolean {
  const scopes = state.session?.scopes ?? [];
  return scopes.includes('*') || scopes.includes(scope);
}

const listeners: (() => void)[] = [];
export function onChange(fn: () => void): void {
  listeners.push(fn);
}
export function changed(): void {
  for (const fn of listeners) fn();
}

export function setTenant(tenant: string | null): void {
  if (tenant !== state.tenant) state.breakGlass = '';
  state.tenant = tenant;
  changed();
}
