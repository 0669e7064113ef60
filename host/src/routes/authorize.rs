//! `POST /v1/authorize`, `/v1/authorize/batch`, `/v1/authorize/fields`: the core's
//! `authorize`, `authorizeBatch` and `readableFields` calls, scoped to the caller's
//! tenant. The request's `tenant` is set to that tenant (a request naming another
//! tenant is refused), so a tenant credential only ever gets its own tenant's policies.
//! The engine's JSON answer is sent byte for byte. Denials and decisions carrying audit
//! flags (e.g. `break_glass`) are appended to the tenant's audit chain first.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use phylax_core::audit::{Action, Decision as AuditDecision, Outcome, RecordRef};
use phylax_core::ErrorBody;
use serde::Deserialize;
use serde_json::Value;

use super::{json_response, read_body};
use crate::auth::Caller;
use crate::error::{status_for_code, ApiError, ApiResult};
use crate::state::AppState;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LightDecision {
    decision: String,
    #[serde(default)]
    policies: Vec<String>,
    #[serde(default)]
    audit_flags: Vec<String>,
    #[serde(default)]
    bundle_hash: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
enum LightAnswer<T> {
    Ok(T),
    Error(ErrorBody),
}

#[derive(Deserialize)]
struct LightBatch {
    decisions: Vec<LightAnswer<LightDecision>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LightFields {
    #[serde(default)]
    audit_flags: Vec<String>,
    #[serde(default)]
    bundle_hash: String,
}

/// Reads the body as a JSON object and pins its `tenant`.
async fn scoped_request(
    state: &Arc<AppState>,
    caller: &Caller,
    req: Request,
) -> ApiResult<(String, Value)> {
    let tenant = caller.default_tenant()?;
    let bytes = read_body(req, &()).await?;
    let mut value: Value = serde_json::from_slice(&bytes).map_err(|e| ApiError::malformed(&e))?;
    let Some(obj) = value.as_object_mut() else {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "request.malformed",
            "the request is not a JSON object",
            "send the call's request object",
        ));
    };
    match obj.get("tenant") {
        None | Some(Value::Null) => {
            obj.insert("tenant".to_owned(), Value::String(tenant.clone()));
        }
        Some(Value::String(t)) if *t == tenant => {}
        Some(_) => {
            let err = ApiError::forbidden(
                "auth.other_tenant",
                format!("the request names another tenant than `{tenant}`"),
                "omit `tenant`; requests are decided in the caller's tenant",
            );
            let ev = caller.event(
                &tenant,
                Action::Authorization,
                "auth.other_tenant",
                Outcome::Denied,
            );
            crate::auth::audit_if_tenant(state, &tenant, ev).await?;
            return Err(err);
        }
    }
    Ok((tenant, value))
}

fn record_ref(value: Option<&Value>) -> Option<RecordRef> {
    let v = value?;
    Some(RecordRef {
        kind: v.get("type")?.as_str()?.to_owned(),
        id: v.get("id")?.as_str()?.to_owned(),
    })
}

fn answer_response(json: String) -> Response {
    let status = match serde_json::from_str::<LightAnswer<serde::de::IgnoredAny>>(&json) {
        Ok(LightAnswer::Error(body)) => status_for_code(&body.code),
        _ => StatusCode::OK,
    };
    json_response(status, json)
}

fn decision_event(
    caller: &Caller,
    tenant: &str,
    d: &LightDecision,
    action: Option<&Value>,
    resource: Option<&Value>,
) -> Option<phylax_core::audit::AuditEvent> {
    let allowed = d.decision == "allow";
    if allowed && d.audit_flags.is_empty() {
        return None;
    }
    let op = action
        .and_then(|a| a.get("id"))
        .and_then(Value::as_str)
        .map_or_else(|| "authorize".to_owned(), |a| format!("authorize:{a}"));
    let mut ev = caller.event(
        tenant,
        Action::Authorization,
        &op,
        if allowed {
            Outcome::Success
        } else {
            Outcome::Denied
        },
    );
    ev.record = record_ref(resource);
    ev.decision = Some(AuditDecision {
        bundle_hash: d.bundle_hash.clone(),
        policy_ids: d.policies.clone(),
        flags: d.audit_flags.clone(),
    });
    Some(ev)
}

/// `POST /v1/authorize`: one decision (`AuthorizeRequest` → `Decision`).
#[utoipa::path(post, path = "/v1/authorize", request_body(content = Object, description = "core AuthorizeRequest"), responses((status = 200, description = "`{\"ok\": Decision}`"), (status = 400, description = "malformed request"), (status = 401), (status = 403)), security(("bearer" = [])))]
pub async fn authorize(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    req: Request,
) -> ApiResult<Response> {
    let (tenant, value) = scoped_request(&state, &caller, req).await?;
    let engine = state.engine.current();
    let text = value.to_string();
    let json = engine.authorize_json(&text);
    if let Ok(LightAnswer::Ok(d)) = serde_json::from_str::<LightAnswer<LightDecision>>(&json) {
        let allowed = d.decision == "allow";
        state
            .metrics
            .decisions(u64::from(allowed), u64::from(!allowed));
        if let Some(ev) = decision_event(
            &caller,
            &tenant,
            &d,
            value.get("action"),
            value.get("resource"),
        ) {
            state.audit.append(&tenant, vec![ev]).await?;
            state.metrics.audit_events(1);
        }
    }
    Ok(answer_response(json))
}

/// `POST /v1/authorize/batch`: many (resource, action) pairs for one principal.
#[utoipa::path(post, path = "/v1/authorize/batch", request_body(content = Object, description = "core BatchRequest"), responses((status = 200, description = "`{\"ok\": BatchResponse}`")), security(("bearer" = [])))]
pub async fn authorize_batch(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    req: Request,
) -> ApiResult<Response> {
    let (tenant, value) = scoped_request(&state, &caller, req).await?;
    let engine = state.engine.current();
    let text = value.to_string();
    let json = engine.authorize_batch_json(&text);
    if let Ok(LightAnswer::Ok(batch)) = serde_json::from_str::<LightAnswer<LightBatch>>(&json) {
        let items = value.get("items").and_then(Value::as_array);
        let mut events = Vec::new();
        let (mut allow, mut deny) = (0, 0);
        for (i, answer) in batch.decisions.iter().enumerate() {
            if let LightAnswer::Ok(d) = answer {
                if d.decision == "allow" {
                    allow += 1;
                } else {
                    deny += 1;
                }
                let item = items.and_then(|it| it.get(i));
                if let Some(ev) = decision_event(
                    &caller,
                    &tenant,
                    d,
                    item.and_then(|x| x.get("action")),
                    item.and_then(|x| x.get("resource")),
                ) {
                    events.push(ev);
                }
            }
        }
        state.metrics.decisions(allow, deny);
        let n = events.len() as u64;
        state.audit.append(&tenant, events).await?;
        state.metrics.audit_events(n);
    }
    Ok(answer_response(json))
}

/// What an answer with audit flags (fields readable, a plan) is recorded as.
struct Flagged<'a> {
    operation: &'static str,
    action: Option<&'a Value>,
    resource: Option<&'a Value>,
}

/// Appends the event of an answer that carries `auditFlags` (from the permits that
/// made it), before the answer is sent; nothing for an answer without flags.
async fn audit_flagged(
    state: &Arc<AppState>,
    caller: &Caller,
    tenant: &str,
    json: &str,
    flagged: Flagged<'_>,
) -> ApiResult<()> {
    let Ok(LightAnswer::Ok(f)) = serde_json::from_str::<LightAnswer<LightFields>>(json) else {
        return Ok(());
    };
    if f.audit_flags.is_empty() {
        return Ok(());
    }
    let d = LightDecision {
        decision: "allow".to_owned(),
        policies: Vec::new(),
        audit_flags: f.audit_flags,
        bundle_hash: f.bundle_hash,
    };
    if let Some(mut ev) = decision_event(caller, tenant, &d, flagged.action, flagged.resource) {
        ev.operation = Some(flagged.operation.to_owned());
        state.audit.append(tenant, vec![ev]).await?;
        state.metrics.audit_events(1);
    }
    Ok(())
}

/// `POST /v1/authorize/fields`: which fields of a record the principal may read.
#[utoipa::path(post, path = "/v1/authorize/fields", request_body(content = Object, description = "core FieldsRequest"), responses((status = 200, description = "`{\"ok\": FieldsResponse}`")), security(("bearer" = [])))]
pub async fn readable_fields(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    req: Request,
) -> ApiResult<Response> {
    let (tenant, value) = scoped_request(&state, &caller, req).await?;
    let engine = state.engine.current();
    let text = value.to_string();
    let json = engine.readable_fields_json(&text);
    let flagged = Flagged {
        operation: "authorize:fields",
        action: None,
        resource: value.get("resource"),
    };
    audit_flagged(&state, &caller, &tenant, &json, flagged).await?;
    Ok(answer_response(json))
}

/// `POST /v1/authorize/plan`: which resources of a type the principal may act on, in the
/// caller's tenant (the core's `PlanRequest`). With `"sql": {"mapping", "dialect"}` the
/// answer also carries the plan as a parameterized `WHERE` fragment (`filter`).
#[utoipa::path(post, path = "/v1/authorize/plan", request_body(content = Object, description = "core PlanRequest, plus optional `sql: {mapping, dialect}`"), responses((status = 200, description = "`{\"ok\": Plan (+ filter)}`")), security(("bearer" = [])))]
pub async fn plan(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    req: Request,
) -> ApiResult<Response> {
    let (tenant, mut value) = scoped_request(&state, &caller, req).await?;
    let sql = value.as_object_mut().and_then(|o| o.remove("sql"));
    let engine = state.engine.current();
    let json = engine.plan_resources_json(&value.to_string());
    // A plan that holds because of an audited permit (a break-glass reason) is written
    // to the chain before the answer, as such a decision would be.
    let flagged = Flagged {
        operation: "authorize:plan",
        action: value.get("action"),
        resource: None,
    };
    audit_flagged(&state, &caller, &tenant, &json, flagged).await?;
    let Some(sql) = sql else {
        return Ok(answer_response(json));
    };
    let mut answer: Value = serde_json::from_str(&json).map_err(ApiError::internal)?;
    let Some(plan) = answer.get("ok").cloned() else {
        return Ok(answer_response(json));
    };
    let Value::Object(mut request) = sql else {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "request.malformed",
            "`sql` must be an object `{mapping, dialect}`",
            "send `sql: {\"mapping\": {...}, \"dialect\": \"postgres\"}`, or omit it",
        ));
    };
    request.insert("plan".to_owned(), plan);
    let filter_json =
        phylax_core::policy::calls::plan_to_sql_json(&Value::Object(request).to_string());
    let filter: Value = serde_json::from_str(&filter_json).map_err(ApiError::internal)?;
    match filter.get("ok") {
        Some(f) => {
            if let Some(ok) = answer.get_mut("ok").and_then(Value::as_object_mut) {
                ok.insert("filter".to_owned(), f.clone());
            }
            Ok(answer_response(answer.to_string()))
        }
        None => Ok(answer_response(filter_json)),
    }
}
