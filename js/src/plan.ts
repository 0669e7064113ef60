/**
 * List queries: a plan (`engine.planResources`) says which resources of a type the
 * principal may act on, as a condition over the resource's attributes; these turn it
 * into a database filter. SQL is translated by the core (the same text in every
 * runtime); the Prisma `where` object is built here from the same condition.
 */
import * as glue from './wasm/phylax.js';
import type { EntityRef } from './engine.js';
import { jsonCall, obj, PhylaxError, toJson } from './errors.js';
import { need } from './runtime.js';

/** A value in a condition; entities are stored in a database as their id. */
export type PlanValue = boolean | number | string | { entity: EntityRef };

/** A condition over the resource; attribute paths are dotted (`patient.providers`). */
export type Condition =
  | { const: boolean }
  | { and: Condition[] }
  | { or: Condition[] }
  | { not: Condition }
  | { compare: { attr: string; op: '==' | '!=' | '<' | '<=' | '>' | '>='; value: PlanValue } }
  | { in: { attr: string; values: PlanValue[] } }
  | { has: { attr: string } }
  | { contains: { attr: string; value: PlanValue } }
  | { resourceIs: { entities: EntityRef[] } }
  | { resourceIn: { entity: EntityRef } };

export interface PlanRequest {
  principal: EntityRef;
  action: EntityRef;
  /** The resource type listed, e.g. `Record`. */
  resourceType: string;
  context?: Record<string, unknown>;
  /** The principal's entities (Cedar entity JSON). */
  entities?: Record<string, unknown>[];
  /** The tenant listed; default: the principal's tenant attribute. */
  tenant?: string;
}

export interface Plan {
  /** `allow`: every resource; `deny`: none; `conditional`: those matching `condition`. */
  decision: 'allow' | 'deny' | 'conditional';
  condition?: Condition;
  policies: string[];
  bundleHash: string;
  tenant?: string;
}

/** Where attributes live in SQL: columns, or fragments with one `?` for the value. */
export interface SqlMapping {
  /** The column of the resource's id (`resource == X`). */
  id?: string;
  attributes?: Record<string, string | { column?: string; contains?: string; has?: string }>;
  /** Entity type → the column of the resource's ancestor of that type, or a fragment with one `?` over every ancestor (`resource in X`). */
  parents?: Record<string, string>;
}

/** A `WHERE` fragment; bind `params` in order (`$1…` for PostgreSQL, `?1…` for SQLite). */
export interface SqlFilter {
  sql: string;
  params: (string | number | boolean)[];
}

/** The plan as a parameterized SQL `WHERE` fragment. Values are only ever parameters. */
export function planToSql(plan: Plan, mapping: SqlMapping, dialect: 'postgres' | 'sqlite'): SqlFilter {
  need();
  const answer = jsonCall(() => glue.planToSql(toJson('request', { plan: obj('plan', plan), mapping: obj('mapping', mapping), dialect })));
  if ('ok' in answer) return answer.ok as SqlFilter;
  throw new PhylaxError(answer.error.code, answer.error.message, answer.error.hint);
}

/**
 * Where attributes live in a Prisma model: attribute path → field path (dotted, through
 * relations), or for a set held in a relation, `{ some: "relation.path", key: "id" }`
 * (`contains(x)` becomes `{ relation: { path: { some: { id: x } } } }`). `has` of a
 * field is `not: null`; of a relation, `{ has: "always" }` makes it true (an empty
 * relation contains nothing).
 */
export interface PrismaMapping {
  id?: string;
  fields?: Record<string, string | { some: string; key: string; has?: 'always' }>;
  parents?: Record<string, string>;
}

/** Most nodes a condition may have here, as in the core. */
const MAX_NODES = 10_000;

function nested(path: string, leaf: unknown): Record<string, unknown> {
  const parts = path.split('.');
  let out: unknown = leaf;
  for (let i = parts.length - 1; i >= 0; i -= 1) out = { [parts[i]]: out };
  return out as Record<string, unknown>;
}

function missing(attr: string, what: string): PhylaxError {
  return new PhylaxError('plan.mapping_missing', `the mapping cannot express the plan: \`${attr}\`: the mapping has no ${what} for it`, 'map every attribute path the plan names');
}

function scalar(v: PlanValue): string | number | boolean {
  return typeof v === 'object' && v !== null ? v.entity.id : v;
}

const PRISMA_OPS: Record<string, string> = { '==': 'equals', '!=': 'not', '<': 'lt', '<=': 'lte', '>': 'gt', '>=': 'gte' };

/** The plan as a Prisma `where` object (`deny` is an impossible filter, `allow` `{}`). */
export function planToPrisma(plan: Plan, mapping: PrismaMapping): Record<string, unknown> {
  obj('plan', plan);
  obj('mapping', mapping);
  if (plan.decision === 'allow') return {};
  if (plan.decision === 'deny') return { AND: [{ OR: [] }] };
  if (plan.decision !== 'conditional' || plan.condition === undefined) {
    throw new PhylaxError('request.malformed', 'not a plan: `decision` must be allow, deny or conditional (with a condition)', 'pass the plan `planResources` returned');
  }
  let nodes = 0;
  const field = (attr: string) => {
    const f = mapping.fields?.[attr];
    if (typeof f === 'string') return f;
    throw missing(attr, 'field');
  };
  const walk = (c: Condition, depth: number): Record<string, unknown> => {
    nodes += 1;
    if (nodes > MAX_NODES || depth > 64) {
      throw new PhylaxError('plan.failed', `no plan: the condition has more than ${MAX_NODES} nodes or nests deeper than 64`, 'narrow the policies the plan is made from');
    }
    if ('const' in c) return c.const ? {} : { AND: [{ OR: [] }] };
    if ('and' in c) return { AND: c.and.map((x) => walk(x, depth + 1)) };
    if ('or' in c) return { OR: c.or.map((x) => walk(x, depth + 1)) };
    if ('not' in c) {
      const inner = walk(c.not, depth + 1);
      // `NOT: {}` is no filter at all in Prisma: the negation of "every row" is "none".
      return Object.keys(inner).length === 0 ? { OR: [] } : { NOT: inner };
    }
    if ('compare' in c) {
      const op = PRISMA_OPS[c.compare.op];
      if (op === undefined) throw new PhylaxError('request.malformed', `unknown comparison \`${String(c.compare.op)}\``, 'pass the plan `planResources` returned');
      return nested(field(c.compare.attr), { [op]: scalar(c.compare.value) });
    }
    if ('in' in c) return nested(field(c.in.attr), { in: c.in.values.map(scalar) });
    if ('has' in c) {
      const f = mapping.fields?.[c.has.attr];
      if (typeof f === 'string') return nested(f, { not: null });
      if (f && typeof f === 'object' && f.has === 'always') return {};
      throw missing(c.has.attr, '`has` (a field, or `has: "always"`)');
    }
    if ('contains' in c) {
      const f = mapping.fields?.[c.contains.attr];
      if (!f || typeof f !== 'object') throw missing(c.contains.attr, '`some` relation');
      return nested(f.some, { some: { [f.key]: scalar(c.contains.value) } });
    }
    if ('resourceIs' in c) {
      if (!mapping.id) throw missing('(resource id)', '`id` field');
      return { [mapping.id]: { in: c.resourceIs.entities.map((e) => e.id) } };
    }
    if ('resourceIn' in c) {
      const col = mapping.parents?.[c.resourceIn.entity.type];
      if (!col) throw missing(`(parent ${c.resourceIn.entity.type})`, 'parent field');
      return nested(col, { equals: c.resourceIn.entity.id });
    }
    throw new PhylaxError('request.malformed', 'not a plan condition', 'pass the plan `planResources` returned');
  };
  return walk(plan.condition, 0);
}
