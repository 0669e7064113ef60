//! "Which records may this user see?": a query plan from the same policies that decide
//! single requests.
//!
//! A list route cannot call `authorize` once per row. [`Engine::plan`] answers for a
//! whole resource *type* at once: given the principal (with its entities), the action
//! and the context, the answer is `allow` (every resource of the tenant), `deny` (none)
//! or a [`Condition`] over the resource's attributes that a database can evaluate.
//! [`to_sql`] turns a condition into a parameterized `WHERE` fragment; the npm package
//! also turns it into a Prisma `where` object.
//!
//! Why it is built this way:
//! - **Cedar decides, Phylax only translates.** The residuals come from Cedar's own
//!   type-aware partial evaluation (`cedar-policy` 4.14.1, experimental feature `tpe`):
//!   the resource is left unknown, everything else is evaluated, and what remains per
//!   policy is a residual expression over `resource`. `tpe` rather than `partial-eval`
//!   because it uses the schema (the resource's type is known, impossible branches fold
//!   to `false`) and gives residuals over the plain variable `resource`, whose typed
//!   syntax tree (`Policy::to_pst`) is walked here. Nothing of Cedar's semantics is
//!   re-implemented: a residual is only re-expressed.
//! - **Exact or an error, never wider.** Every residual construct maps to one
//!   [`Condition`] node with the same meaning on data that conforms to the schema (the
//!   engine validates policies strictly, so an optional attribute is always read behind
//!   its `has`). Anything else (arithmetic, `like`, extension functions, comparing two
//!   attributes, a sub-expression Cedar knows will error) is refused with
//!   `plan.unsupported`, naming the policy. A plan never admits a row `authorize` would
//!   deny.
//! - **Phylax denies on any evaluation error**, and `authorize` scopes each request to
//!   one tenant's policies. So a policy that errors for every resource makes the plan
//!   `deny`, and the condition always starts with the tenant: `resource.tenant ==
//!   Tenant::"T"` (or `resource == Tenant::"T"` for tenant resources). Rows of another
//!   tenant would be refused by `authorize` with `tenant: T`, and are not in the plan.
//!
//! The allow condition is `(any permit) AND NOT (any forbid)`, each side an `or` of the
//! residual conditions; constants fold.

use std::collections::BTreeMap;

use cedar_policy::pst::{self, BinaryOp, Expr, Literal, UnaryOp, Var};
use cedar_policy::{
    Decision as CedarDecision, Effect as CedarEffect, EntityTypeName, EntityUid, PartialEntities,
    PartialEntityUid, PartialRequest,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::engine::Engine;
use super::error::PolicyError;
use super::request::{self, EntityRef};

/// Most parameters one `WHERE` fragment may bind (PostgreSQL's limit per statement).
pub const MAX_SQL_PARAMS: usize = 65_535;

/// Most nodes a plan's condition may have (a policy set that expands past this is
/// refused rather than sent to a database).
pub const MAX_CONDITION_NODES: usize = 10_000;

/// `planResources`: which resources of a type may the principal act on?
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlanRequest {
    /// Who asks.
    pub principal: EntityRef,
    /// What they want to do (type `Action`).
    pub action: EntityRef,
    /// The resource type listed, e.g. `Record`.
    pub resource_type: String,
    /// The context record; `{}` when absent.
    #[serde(default = "request::empty_object")]
    pub context: Value,
    /// The request's own entities (the principal and what it refers to), in Cedar's
    /// entity JSON, joined to the engine's base entities.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entities: Vec<Value>,
    /// The tenant whose resources are listed (and whose policies apply). Default: the
    /// principal's tenant attribute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
}

/// The answer for a whole resource type.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Plan {
    /// `allow`: every resource (there is no tenant to scope it to); `deny`: none;
    /// `conditional`: those for which `condition` holds.
    pub decision: PlanDecision,
    /// The condition over the resource, when `conditional`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<Condition>,
    /// The policies that decide: for a condition, those whose residual is in it (and
    /// those satisfied outright); for `allow` / `deny`, those that decided it.
    pub policies: Vec<String>,
    /// The `@audit` flags of the permits that hold for every resource (as a decision's
    /// `auditFlags`), e.g. `break_glass`.
    #[serde(default)]
    pub audit_flags: Vec<String>,
    /// Hash of the policies and schema that made the plan, as in a decision.
    pub bundle_hash: String,
    /// The tenant the plan is scoped to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
}

/// `allow`, `deny` or `conditional`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanDecision {
    /// Every resource of the type.
    Allow,
    /// No resource.
    Deny,
    /// The resources for which the condition holds.
    Conditional,
}

/// A value in a condition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PlanValue {
    /// A Cedar `Bool`.
    Bool(bool),
    /// A Cedar `Long`.
    Long(i64),
    /// A Cedar `String`.
    String(String),
    /// An entity reference: stored in a database as its id.
    Entity {
        /// The entity reference.
        entity: EntityRef,
    },
}

/// A condition over the resource. Attribute paths are dotted, from the resource:
/// `tenant`, `patient.providers`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum Condition {
    /// Always true (`true`) or false.
    Const(bool),
    /// Every one holds.
    And(Vec<Condition>),
    /// At least one holds.
    Or(Vec<Condition>),
    /// It does not hold.
    Not(Box<Condition>),
    /// `resource.<attr> <op> value`.
    Compare {
        /// The attribute path.
        attr: String,
        /// `==`, `!=`, `<`, `<=`, `>`, `>=`.
        op: CompareOp,
        /// The value compared with.
        value: PlanValue,
    },
    /// `resource.<attr>` is one of the values (`==` any).
    In {
        /// The attribute path.
        attr: String,
        /// The values.
        values: Vec<PlanValue>,
    },
    /// `resource has <attr>` (the last segment of the path).
    Has {
        /// The attribute path.
        attr: String,
    },
    /// `resource.<attr>` (a set) contains the value.
    Contains {
        /// The attribute path.
        attr: String,
        /// The element.
        value: PlanValue,
    },
    /// The resource is one of these entities.
    ResourceIs {
        /// The entities.
        entities: Vec<EntityRef>,
    },
    /// The resource is a descendant of this entity (a parent, or the tenant) in the
    /// entity hierarchy.
    ResourceIn {
        /// The ancestor.
        entity: EntityRef,
    },
}

/// A comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CompareOp {
    /// `==`
    #[serde(rename = "==")]
    Eq,
    /// `!=`
    #[serde(rename = "!=")]
    Ne,
    /// `<`
    #[serde(rename = "<")]
    Lt,
    /// `<=`
    #[serde(rename = "<=")]
    Le,
    /// `>`
    #[serde(rename = ">")]
    Gt,
    /// `>=`
    #[serde(rename = ">=")]
    Ge,
}

impl CompareOp {
    /// The SQL operator.
    pub fn sql(self) -> &'static str {
        match self {
            Self::Eq => "=",
            Self::Ne => "<>",
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Gt => ">",
            Self::Ge => ">=",
        }
    }

    /// `a op b` as `b op' a`.
    fn flipped(self) -> Self {
        match self {
            Self::Eq | Self::Ne => self,
            Self::Lt => Self::Gt,
            Self::Le => Self::Ge,
            Self::Gt => Self::Lt,
            Self::Ge => Self::Le,
        }
    }
}

impl Condition {
    /// `and` with constants folded and nested `and`s flattened.
    pub fn and(parts: Vec<Condition>) -> Condition {
        let mut out = Vec::with_capacity(parts.len());
        for p in parts {
            match p {
                Condition::Const(true) => {}
                Condition::Const(false) => return Condition::Const(false),
                Condition::And(inner) => inner.into_iter().for_each(|c| push_unique(&mut out, c)),
                other => push_unique(&mut out, other),
            }
        }
        match out.len() {
            0 => Condition::Const(true),
            1 => out.pop().unwrap_or(Condition::Const(true)),
            _ => Condition::And(out),
        }
    }

    /// `or` with constants folded and nested `or`s flattened.
    pub fn or(parts: Vec<Condition>) -> Condition {
        let mut out = Vec::with_capacity(parts.len());
        for p in parts {
            match p {
                Condition::Const(false) => {}
                Condition::Const(true) => return Condition::Const(true),
                Condition::Or(inner) => inner.into_iter().for_each(|c| push_unique(&mut out, c)),
                other => push_unique(&mut out, other),
            }
        }
        match out.len() {
            0 => Condition::Const(false),
            1 => out.pop().unwrap_or(Condition::Const(false)),
            _ => Condition::Or(out),
        }
    }

    /// `not`, folded for constants and double negation.
    pub fn negate(inner: Condition) -> Condition {
        match inner {
            Condition::Const(b) => Condition::Const(!b),
            Condition::Not(c) => *c,
            other => Condition::Not(Box::new(other)),
        }
    }

    /// Nodes in the tree.
    pub fn size(&self) -> usize {
        match self {
            Condition::And(v) | Condition::Or(v) => {
                1 + v.iter().map(Condition::size).sum::<usize>()
            }
            Condition::Not(c) => 1 + c.size(),
            _ => 1,
        }
    }
}

/// Adds a part unless an equal one is there (`a && a` is `a`); long lists are kept as
/// they are rather than compared pairwise.
fn push_unique(out: &mut Vec<Condition>, c: Condition) {
    if out.len() > 64 || !out.contains(&c) {
        out.push(c);
    }
}

fn unsupported(policy: &str, reason: impl Into<String>) -> PolicyError {
    PolicyError::PlanUnsupported {
        policy: policy.to_owned(),
        reason: reason.into(),
    }
}

/// Walks one residual expression into a [`Condition`].
struct Walk<'a> {
    policy: &'a str,
    engine: &'a Engine,
    resource_type: &'a str,
    /// Nodes made so far for the whole plan: an `if` copies its condition, so nested
    /// ones could double the tree per level; the walk stops at the cap instead.
    nodes: &'a std::cell::Cell<usize>,
}

/// An operand: a path from the resource, the resource itself, or a literal.
enum Operand {
    Resource,
    Path(String),
    Value(PlanValue),
    Values(Vec<PlanValue>),
}

impl Walk<'_> {
    fn err(&self, reason: impl Into<String>) -> PolicyError {
        unsupported(self.policy, reason)
    }

    fn condition(&self, e: &Expr) -> Result<Condition, PolicyError> {
        let made = self.nodes.get().saturating_add(1);
        if made > MAX_CONDITION_NODES {
            return Err(PolicyError::PlanFailed {
                message: format!(
                    "the condition would have more than the {MAX_CONDITION_NODES} nodes a plan may have"
                ),
            });
        }
        self.nodes.set(made);
        crate::stack::deep(crate::stack::DECISION_RED_ZONE, || self.condition_inner(e))
    }

    fn condition_inner(&self, e: &Expr) -> Result<Condition, PolicyError> {
        match e {
            Expr::Literal(Literal::Bool(b)) => Ok(Condition::Const(*b)),
            Expr::UnaryOp {
                op: UnaryOp::Not,
                expr,
            } => Ok(Condition::negate(self.condition(expr)?)),
            Expr::BinaryOp { op, left, right } => self.binary(*op, left, right),
            Expr::HasAttr { expr, attrs } => {
                let base = match self.operand(expr)? {
                    Operand::Resource => String::new(),
                    Operand::Path(p) => format!("{p}."),
                    _ => return Err(self.err("`has` on something other than the resource")),
                };
                // `e has a.b` is `e has a && e.a has b`.
                let mut parts = Vec::new();
                let mut path = base;
                for (i, a) in attrs.iter().enumerate() {
                    if i > 0 {
                        path.push('.');
                    }
                    path.push_str(a);
                    parts.push(Condition::Has { attr: path.clone() });
                }
                Ok(Condition::and(parts))
            }
            Expr::IfThenElse {
                cond,
                then_expr,
                else_expr,
            } => {
                let c = self.condition(cond)?;
                let expanded = Condition::or(vec![
                    Condition::and(vec![c.clone(), self.condition(then_expr)?]),
                    Condition::and(vec![Condition::negate(c), self.condition(else_expr)?]),
                ]);
                // The condition is copied: nested `if`s double the tree per level.
                if expanded.size() > MAX_CONDITION_NODES {
                    return Err(PolicyError::PlanFailed {
                        message: format!(
                            "the condition would have more than the {MAX_CONDITION_NODES} nodes a plan may have"
                        ),
                    });
                }
                Ok(expanded)
            }
            Expr::Is { .. } => {
                Err(self
                    .err("`is` on an attribute of the resource (the resource's own type is known)"))
            }
            Expr::Like { .. } => Err(self.err("`like` patterns")),
            Expr::GetAttr { .. } | Expr::Var(_) => {
                // A boolean attribute used as a condition.
                match self.operand(e)? {
                    Operand::Path(attr) => Ok(Condition::Compare {
                        attr,
                        op: CompareOp::Eq,
                        value: PlanValue::Bool(true),
                    }),
                    _ => Err(self.err("a non-boolean value used as a condition")),
                }
            }
            _ => Err(self.err(describe(e))),
        }
    }

    fn binary(&self, op: BinaryOp, left: &Expr, right: &Expr) -> Result<Condition, PolicyError> {
        let cmp = match op {
            BinaryOp::And => {
                return Ok(Condition::and(vec![
                    self.condition(left)?,
                    self.condition(right)?,
                ]))
            }
            BinaryOp::Or => {
                return Ok(Condition::or(vec![
                    self.condition(left)?,
                    self.condition(right)?,
                ]))
            }
            BinaryOp::Eq => CompareOp::Eq,
            BinaryOp::NotEq => CompareOp::Ne,
            BinaryOp::Less => CompareOp::Lt,
            BinaryOp::LessEq => CompareOp::Le,
            BinaryOp::Greater => CompareOp::Gt,
            BinaryOp::GreaterEq => CompareOp::Ge,
            BinaryOp::In => return self.in_(left, right),
            BinaryOp::Contains => {
                return match (self.operand(left)?, self.operand(right)?) {
                    (Operand::Path(attr), Operand::Value(value)) => {
                        Ok(Condition::Contains { attr, value })
                    }
                    _ => Err(self.err("`contains` other than `resource.<set>.contains(value)`")),
                }
            }
            BinaryOp::ContainsAll | BinaryOp::ContainsAny => return match (
                self.operand(left)?,
                self.operand(right)?,
            ) {
                (Operand::Path(attr), Operand::Values(values)) => {
                    let parts = values
                        .into_iter()
                        .map(|value| Condition::Contains {
                            attr: attr.clone(),
                            value,
                        })
                        .collect();
                    Ok(if op == BinaryOp::ContainsAll {
                        Condition::and(parts)
                    } else {
                        Condition::or(parts)
                    })
                }
                _ => Err(self.err(
                    "`containsAll` / `containsAny` other than on a resource set and literal values",
                )),
            },
            other => return Err(self.err(format!("the operator `{other}`"))),
        };
        match (self.operand(left)?, self.operand(right)?) {
            (Operand::Path(attr), Operand::Value(value)) => Ok(Condition::Compare {
                attr,
                op: cmp,
                value,
            }),
            (Operand::Value(value), Operand::Path(attr)) => Ok(Condition::Compare {
                attr,
                op: cmp.flipped(),
                value,
            }),
            (Operand::Resource, Operand::Value(PlanValue::Entity { entity }))
            | (Operand::Value(PlanValue::Entity { entity }), Operand::Resource)
                if matches!(cmp, CompareOp::Eq | CompareOp::Ne) =>
            {
                let is = Condition::ResourceIs {
                    entities: vec![entity],
                };
                Ok(if cmp == CompareOp::Eq {
                    is
                } else {
                    Condition::negate(is)
                })
            }
            (Operand::Path(_), Operand::Path(_)) => {
                Err(self.err("a comparison of two attributes of the resource"))
            }
            _ => Err(self.err(format!("a `{}` comparison of this shape", cmp.sql()))),
        }
    }

    fn in_(&self, left: &Expr, right: &Expr) -> Result<Condition, PolicyError> {
        let ancestors: Vec<EntityRef> = match self.operand(right)? {
            Operand::Value(PlanValue::Entity { entity }) => vec![entity],
            Operand::Values(values) => values
                .into_iter()
                .map(|v| match v {
                    PlanValue::Entity { entity } => Ok(entity),
                    _ => Err(self.err("`in` a set that holds something other than entities")),
                })
                .collect::<Result<_, _>>()?,
            _ => return Err(self.err("`in` other than `resource in <entity or set of entities>`")),
        };
        match self.operand(left)? {
            // Both known: Cedar left it only because the left entity is not among the
            // entities given, and an entity that is not there has no ancestors, so it is
            // `in` only itself (as `authorize` decides with the same entities).
            Operand::Value(PlanValue::Entity { entity }) => {
                Ok(Condition::Const(ancestors.contains(&entity)))
            }
            // `resource in E`: the resource is E itself, or E is among its ancestors
            // (the mapping's `parents` entry for E's type says where those are).
            Operand::Resource => Ok(Condition::or(
                ancestors
                    .into_iter()
                    .flat_map(|entity| {
                        let same = entity.entity_type == self.resource_type;
                        let under = self.engine.can_be_ancestor(&entity.entity_type);
                        let is = same.then(|| Condition::ResourceIs {
                            entities: vec![entity.clone()],
                        });
                        let within = under.then_some(Condition::ResourceIn { entity });
                        is.into_iter().chain(within)
                    })
                    .collect(),
            )),
            // `resource.attr in [E...]` is equality only when no E can be an ancestor;
            // a hierarchy behind an attribute has no column to read.
            Operand::Path(attr) => {
                if let Some(e) = ancestors
                    .iter()
                    .find(|e| self.engine.can_be_ancestor(&e.entity_type))
                {
                    return Err(self.err(format!(
                        "`{attr} in` an entity of type `{}`, which can have descendants",
                        e.entity_type
                    )));
                }
                Ok(Condition::In {
                    attr,
                    values: ancestors
                        .into_iter()
                        .map(|entity| PlanValue::Entity { entity })
                        .collect(),
                })
            }
            _ => Err(self.err("`in` whose left side is not the resource or its attribute")),
        }
    }

    fn operand(&self, e: &Expr) -> Result<Operand, PolicyError> {
        match e {
            Expr::Var(Var::Resource) => Ok(Operand::Resource),
            Expr::GetAttr { expr, attr } => match self.operand(expr)? {
                Operand::Resource => Ok(Operand::Path(attr.to_string())),
                Operand::Path(p) => Ok(Operand::Path(format!("{p}.{attr}"))),
                _ => Err(self.err("an attribute of something other than the resource")),
            },
            Expr::Literal(l) => Ok(Operand::Value(
                literal(l).ok_or_else(|| self.err("a literal of an unknown kind"))?,
            )),
            Expr::Set(items) => Ok(Operand::Values(
                items
                    .iter()
                    .map(|i| match self.operand(i)? {
                        Operand::Value(v) => Ok(v),
                        _ => Err(self.err("a set holding something other than literals")),
                    })
                    .collect::<Result<_, _>>()?,
            )),
            Expr::Var(v) => Err(self.err(format!("`{v:?}` left in a residual"))),
            other => Err(self.err(describe(other))),
        }
    }
}

fn literal(l: &Literal) -> Option<PlanValue> {
    match l {
        Literal::Bool(b) => Some(PlanValue::Bool(*b)),
        Literal::Long(n) => Some(PlanValue::Long(*n)),
        Literal::String(s) => Some(PlanValue::String(s.to_string())),
        Literal::EntityUID(uid) => Some(PlanValue::Entity {
            entity: EntityRef {
                entity_type: uid.ty.to_string(),
                id: uid.eid.to_string(),
            },
        }),
        _ => None,
    }
}

fn describe(e: &Expr) -> String {
    match e {
        Expr::ResidualError => "a sub-expression Cedar knows will error".to_owned(),
        Expr::UnaryOp { op, .. } => format!("the operator `{op}`"),
        Expr::BinaryOp { op, .. } => format!("the operator `{op}`"),
        Expr::Record(_) => "a record value".to_owned(),
        Expr::Unknown { .. } => "an unknown value".to_owned(),
        Expr::Slot(_) => "a template slot".to_owned(),
        _ => "this expression".to_owned(),
    }
}

impl Engine {
    /// Plans a list query: which resources of `resource_type` the principal may act on,
    /// in its tenant. Errors mean "no plan": deny, as for a decision.
    pub fn plan(&self, req: &PlanRequest) -> Result<Plan, PolicyError> {
        crate::stack::deep(crate::stack::DECISION_RED_ZONE, || self.plan_inner(req))
    }

    fn plan_inner(&self, req: &PlanRequest) -> Result<Plan, PolicyError> {
        crate::limits::check_value_nesting("the context", &req.context)?;
        let entities = self
            .entity_cache
            .parse(&self.schema, &self.types, &req.entities)?;
        let principal = self.types.require("principal", &req.principal)?;
        let action = self.types.require("action", &req.action)?;
        let resource_type: EntityTypeName = self
            .schema
            .entity_types()
            .find(|t| t.to_string() == req.resource_type)
            .cloned()
            .ok_or_else(|| PolicyError::Request {
                message: format!(
                    "the resource type `{}` is not declared by the schema",
                    req.resource_type
                ),
            })?;
        let tenant = self.plan_tenant(&principal, &entities, req.tenant.as_deref())?;
        let context = request::parse_context(&self.schema, &action, &req.context)?;
        let mut roots = vec![principal.clone(), action.clone()];
        self.types.collect_refs(&req.context, &mut roots);
        let slice = self.base.slice(roots.iter(), &entities)?;

        let partial = PartialRequest::new(
            PartialEntityUid::from_concrete(principal),
            action,
            PartialEntityUid::new(resource_type.clone(), None),
            Some(context),
            &self.schema,
        )
        .map_err(|e| PolicyError::Request {
            message: crate::policy::source::one_line(&e),
        })?;
        let partial_entities =
            PartialEntities::from_concrete(slice, &self.schema).map_err(|e| {
                PolicyError::Entities {
                    message: crate::policy::source::one_line(&e),
                }
            })?;
        let set = self.policy_set(tenant.as_deref());
        let response = set
            .tpe(&partial, &partial_entities, &self.schema)
            .map_err(|e| PolicyError::PlanFailed {
                message: crate::policy::source::one_line(&e),
            })?;

        let scope = self.tenant_condition(&resource_type, tenant.as_deref());
        let ids = |it: &mut dyn Iterator<Item = &cedar_policy::PolicyId>| {
            let mut v: Vec<String> = it.map(ToString::to_string).collect();
            v.sort();
            v
        };
        let true_permit_ids: Vec<cedar_policy::PolicyId> =
            response.true_permits().cloned().collect();
        let finish = |decision: PlanDecision, condition: Option<Condition>, policies| Plan {
            // The flags of the permits that hold for every row (e.g. `break_glass`): the
            // list is audited as their decisions would be.
            audit_flags: if decision == PlanDecision::Deny {
                Vec::new()
            } else {
                self.audit_flags_of(&true_permit_ids)
            },
            decision,
            condition,
            policies,
            bundle_hash: self.bundle_hash().to_owned(),
            tenant: tenant.clone(),
        };
        // Phylax denies a request in which any policy errors: a policy that errors for
        // every resource makes every request a deny.
        let errored = ids(&mut response.error_permits().chain(response.error_forbids()));
        if !errored.is_empty() {
            return Ok(finish(PlanDecision::Deny, None, errored));
        }
        let true_permits = ids(&mut response.true_permits());
        let resource_type_name = resource_type.to_string();
        let nodes = std::cell::Cell::new(0);
        if response.decision() == Some(CedarDecision::Deny) {
            let forbids = ids(&mut response.true_forbids());
            return Ok(finish(PlanDecision::Deny, None, forbids));
        }
        let mut permits = Vec::new();
        let mut forbids = Vec::new();
        let mut policies = true_permits.clone();
        // Every residual is walked, also when a permit already holds: a residual this
        // walk cannot express exactly might error on some rows, and Phylax denies a
        // request in which any policy errors.
        for policy in response.residual_policies() {
            let id = policy.id().to_string();
            let pst = policy
                .to_pst()
                .map_err(|e| unsupported(&id, e.to_string()))?;
            let body = pst.body();
            if !matches!(body.principal, pst::PrincipalConstraint::Any)
                || !matches!(body.action, pst::ActionConstraint::Any)
                || !matches!(body.resource, pst::ResourceConstraint::Any)
            {
                return Err(unsupported(&id, "a residual that keeps a scope constraint"));
            }
            let walk = Walk {
                policy: &id,
                engine: self,
                resource_type: &resource_type_name,
                nodes: &nodes,
            };
            let mut clauses = Vec::new();
            for clause in body.clauses() {
                clauses.push(match clause {
                    pst::Clause::When(e) => walk.condition(e)?,
                    pst::Clause::Unless(e) => Condition::negate(walk.condition(e)?),
                });
            }
            let c = Condition::and(clauses);
            // A residual that folds to `false` can never decide: not listed.
            if c == Condition::Const(false) {
                continue;
            }
            match policy.effect() {
                // Once a permit holds, the other permits decide nothing.
                CedarEffect::Permit if !true_permits.is_empty() => {}
                CedarEffect::Permit => {
                    permits.push(c);
                    policies.push(id);
                }
                CedarEffect::Forbid => {
                    forbids.push(c);
                    policies.push(id);
                }
            }
        }
        policies.sort();
        let allow = if true_permits.is_empty() {
            Condition::or(permits)
        } else {
            Condition::Const(true)
        };
        let condition = Condition::and(vec![
            scope.clone().unwrap_or(Condition::Const(true)),
            allow,
            Condition::negate(Condition::or(forbids)),
        ]);
        if condition.size() > MAX_CONDITION_NODES {
            return Err(PolicyError::PlanFailed {
                message: format!(
                    "the condition has {} nodes, more than the {MAX_CONDITION_NODES} a plan may have",
                    condition.size()
                ),
            });
        }
        Ok(match condition {
            // No permit can hold: as `authorize`, a deny no policy determines.
            Condition::Const(false) => finish(PlanDecision::Deny, None, Vec::new()),
            Condition::Const(true) => finish(PlanDecision::Allow, None, policies),
            c => finish(PlanDecision::Conditional, Some(c), policies),
        })
    }

    /// The tenant a plan is scoped to: the one given, else the principal's.
    fn plan_tenant(
        &self,
        principal: &EntityUid,
        entities: &[request::RequestEntity],
        given: Option<&str>,
    ) -> Result<Option<String>, PolicyError> {
        let Some(tt) = self.tenant_type.as_ref() else {
            return Ok(given.map(str::to_owned));
        };
        if let Some(g) = given {
            super::tenancy::check_tenant_id(g)?;
            return Ok(Some(g.to_owned()));
        }
        let attr = &self.options.tenant_attribute;
        let derived = match entities.iter().find(|e| &e.uid() == principal) {
            Some(e) => super::tenancy::tenant_of_attr(e.entity.attr(attr), tt),
            None => self
                .base
                .entities
                .get(principal)
                .and_then(|e| super::tenancy::tenant_of_attr(e.attr(attr), tt)),
        };
        derived.map(Some).ok_or(PolicyError::PlanTenantRequired)
    }

    /// `resource.tenant == Tenant::"T"`, or `resource == Tenant::"T"` when the resources
    /// are tenants. Always there when the engine has a tenant type: a resource type
    /// without the tenant attribute then needs `tenant` mapped (else
    /// `plan.mapping_missing`), never a plan over every tenant's rows.
    fn tenant_condition(
        &self,
        resource_type: &EntityTypeName,
        tenant: Option<&str>,
    ) -> Option<Condition> {
        let tt = self.tenant_type.as_ref()?;
        let t = tenant?;
        let entity = EntityRef {
            entity_type: tt.to_string(),
            id: t.to_owned(),
        };
        if resource_type == tt {
            return Some(Condition::ResourceIs {
                entities: vec![entity],
            });
        }
        Some(Condition::Compare {
            attr: self.options.tenant_attribute.clone(),
            op: CompareOp::Eq,
            value: PlanValue::Entity { entity },
        })
    }

    /// Whether entities of `entity_type` can be ancestors of others (so `x in E` is
    /// more than `x == E`).
    fn can_be_ancestor(&self, entity_type: &str) -> bool {
        self.ancestor_types
            .get_or_init(|| {
                let mut out = std::collections::HashSet::new();
                for t in self.schema.entity_types() {
                    if let Some(ancestors) = self.schema.ancestors(t) {
                        out.extend(ancestors.map(ToString::to_string));
                    }
                }
                out
            })
            .contains(entity_type)
    }
}

// ---------------------------------------------------------------------------------------
// SQL

/// Where a condition's attributes live in the database: supplied by the caller.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SqlMapping {
    /// The column holding the resource's id (for `resource == X`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Attribute path → how to read it.
    #[serde(default)]
    pub attributes: BTreeMap<String, SqlAttribute>,
    /// Entity type → the column holding the resource's ancestor of that type, or a
    /// fragment with one `?` that holds for every ancestor of that type (e.g. `EXISTS
    /// (SELECT 1 FROM folder_closure c WHERE c.doc_id = docs.id AND c.ancestor_id = ?)`),
    /// for `resource in X`.
    #[serde(default)]
    pub parents: BTreeMap<String, String>,
}

/// One attribute in the database.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SqlAttribute {
    /// A column (expression) holding the value; an entity is stored as its id. `has`
    /// is `IS NOT NULL`.
    Column(String),
    /// A set-valued attribute, or one stored elsewhere: SQL fragments with `?` where
    /// the value goes.
    Fragments(SqlFragments),
}

/// The SQL fragments of an attribute not held in one column.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SqlFragments {
    /// The column (expression), when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    /// `resource.<attr>.contains(?)`, e.g. `EXISTS (SELECT 1 FROM care_team c WHERE
    /// c.patient_id = records.patient_id AND c.provider_id = ?)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contains: Option<String>,
    /// `resource has <attr>`, e.g. `TRUE`, or `records.notes IS NOT NULL`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub has: Option<String>,
}

/// The SQL dialect: placeholders differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    /// `$1`, `$2`, ...; booleans as `BOOLEAN`.
    Postgres,
    /// `?1`, `?2`, ...; booleans as `0` / `1`.
    Sqlite,
}

/// A `WHERE` fragment and its parameters, in order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SqlFilter {
    /// The fragment: attribute columns from the mapping, every value a placeholder.
    pub sql: String,
    /// The values for the placeholders: strings (entity ids too), integers, booleans
    /// (`0` / `1` for SQLite).
    pub params: Vec<Value>,
}

/// `planToSql`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SqlRequest {
    /// A plan from `planResources`.
    pub plan: Plan,
    /// Where the attributes are.
    pub mapping: SqlMapping,
    /// `postgres` or `sqlite`.
    pub dialect: Dialect,
}

struct Sql<'a> {
    mapping: &'a SqlMapping,
    dialect: Dialect,
    params: Vec<Value>,
}

fn missing(attr: &str, what: &str) -> PolicyError {
    PolicyError::PlanMapping {
        attribute: attr.to_owned(),
        reason: format!("the mapping has no {what} for it"),
    }
}

impl Sql<'_> {
    fn param(&mut self, v: &PlanValue) -> String {
        let value = match v {
            PlanValue::Bool(b) => match self.dialect {
                Dialect::Postgres => Value::Bool(*b),
                Dialect::Sqlite => Value::from(i64::from(*b)),
            },
            PlanValue::Long(n) => Value::from(*n),
            PlanValue::String(s) => Value::String(s.clone()),
            PlanValue::Entity { entity } => Value::String(entity.id.clone()),
        };
        self.params.push(value);
        let n = self.params.len();
        match self.dialect {
            Dialect::Postgres => format!("${n}"),
            Dialect::Sqlite => format!("?{n}"),
        }
    }

    /// A fragment with its `?` replaced by the value's placeholder.
    fn fill(&mut self, template: &str, v: &PlanValue) -> Result<String, PolicyError> {
        let Some((before, after)) = template.split_once('?') else {
            return Err(PolicyError::PlanMapping {
                attribute: String::new(),
                reason: format!("the fragment `{template}` has no `?` for the value"),
            });
        };
        if after.contains('?') {
            return Err(PolicyError::PlanMapping {
                attribute: String::new(),
                reason: format!("the fragment `{template}` has more than one `?`"),
            });
        }
        let p = self.param(v);
        Ok(format!("{before}{p}{after}"))
    }

    fn column(&self, attr: &str) -> Result<String, PolicyError> {
        match self.mapping.attributes.get(attr) {
            Some(SqlAttribute::Column(c)) => Ok(c.clone()),
            Some(SqlAttribute::Fragments(SqlFragments {
                column: Some(c), ..
            })) => Ok(c.clone()),
            _ => Err(missing(attr, "column")),
        }
    }

    fn render(&mut self, c: &Condition) -> Result<String, PolicyError> {
        crate::stack::deep(crate::stack::DECISION_RED_ZONE, || self.render_inner(c))
    }

    fn render_inner(&mut self, c: &Condition) -> Result<String, PolicyError> {
        Ok(match c {
            Condition::Const(true) => "(1 = 1)".to_owned(),
            Condition::Const(false) => "(1 = 0)".to_owned(),
            Condition::And(parts) | Condition::Or(parts) => {
                let sep = if matches!(c, Condition::And(_)) {
                    " AND "
                } else {
                    " OR "
                };
                let mut out = Vec::with_capacity(parts.len());
                for p in parts {
                    out.push(self.render(p)?);
                }
                format!("({})", out.join(sep))
            }
            Condition::Not(inner) => format!("(NOT {})", self.render(inner)?),
            Condition::Compare { attr, op, value } => {
                let col = self.column(attr)?;
                format!("({col} {} {})", op.sql(), self.param(value))
            }
            Condition::In { attr, values } => {
                if values.is_empty() {
                    return Ok("(1 = 0)".to_owned());
                }
                let col = self.column(attr)?;
                let ps: Vec<String> = values.iter().map(|v| self.param(v)).collect();
                format!("({col} IN ({}))", ps.join(", "))
            }
            Condition::Has { attr } => match self.mapping.attributes.get(attr) {
                Some(SqlAttribute::Fragments(SqlFragments { has: Some(h), .. })) => {
                    format!("({h})")
                }
                Some(SqlAttribute::Column(col))
                | Some(SqlAttribute::Fragments(SqlFragments {
                    column: Some(col), ..
                })) => format!("({col} IS NOT NULL)"),
                _ => return Err(missing(attr, "`has` fragment or column")),
            },
            Condition::Contains { attr, value } => match self.mapping.attributes.get(attr) {
                Some(SqlAttribute::Fragments(SqlFragments {
                    contains: Some(t), ..
                })) => {
                    let t = t.clone();
                    format!("({})", self.fill(&t, value)?)
                }
                _ => return Err(missing(attr, "`contains` fragment")),
            },
            Condition::ResourceIs { entities } => {
                let col = self
                    .mapping
                    .id
                    .clone()
                    .ok_or_else(|| missing("(resource id)", "`id` column"))?;
                let ps: Vec<String> = entities
                    .iter()
                    .map(|e| self.param(&PlanValue::Entity { entity: e.clone() }))
                    .collect();
                format!("({col} IN ({}))", ps.join(", "))
            }
            Condition::ResourceIn { entity } => {
                let parent = self
                    .mapping
                    .parents
                    .get(&entity.entity_type)
                    .cloned()
                    .ok_or_else(|| {
                        missing(&format!("(parent {})", entity.entity_type), "parent column")
                    })?;
                let value = PlanValue::Entity {
                    entity: entity.clone(),
                };
                // A column holding the ancestor's id, or a fragment with one `?` (e.g. an
                // `EXISTS` over a closure table holding every ancestor).
                if parent.contains('?') {
                    format!("({})", self.fill(&parent, &value)?)
                } else {
                    let p = self.param(&value);
                    format!("({parent} = {p})")
                }
            }
        })
    }
}

/// A plan as a `WHERE` fragment: `allow` is `(1 = 1)`, `deny` `(1 = 0)`. Values are only
/// ever parameters; column names come from the mapping (the caller's code, never user
/// input). A mapping that lacks an attribute the condition needs is an error naming it.
pub fn to_sql(
    plan: &Plan,
    mapping: &SqlMapping,
    dialect: Dialect,
) -> Result<SqlFilter, PolicyError> {
    let mut s = Sql {
        mapping,
        dialect,
        params: Vec::new(),
    };
    let sql = match (&plan.decision, &plan.condition) {
        (PlanDecision::Allow, _) => "(1 = 1)".to_owned(),
        (PlanDecision::Deny, _) => "(1 = 0)".to_owned(),
        (PlanDecision::Conditional, Some(c)) => {
            if c.size() > MAX_CONDITION_NODES {
                return Err(PolicyError::PlanFailed {
                    message: format!("the condition has more than {MAX_CONDITION_NODES} nodes"),
                });
            }
            s.render(c)?
        }
        (PlanDecision::Conditional, None) => {
            return Err(PolicyError::Request {
                message: "a conditional plan without a condition".to_owned(),
            })
        }
    };
    // A long `in` list counts as one node; the database's own limit is checked here.
    if s.params.len() > MAX_SQL_PARAMS {
        return Err(PolicyError::PlanFailed {
            message: format!(
                "the filter would bind {} values, more than the {MAX_SQL_PARAMS} one statement takes",
                s.params.len()
            ),
        });
    }
    Ok(SqlFilter {
        sql,
        params: s.params,
    })
}
