//! `phylax:core/policy`: engines over `phylax_core::policy::calls`.

use phylax_core::policy::calls::{
    authorize_batch_json, authorize_json, build_engine_json, call_json, engine_info,
    load_bundle_json, plan_resources_json, plan_to_sql_json, readable_fields_json,
    validate_policies, verify_bundle, ValidateRequest, VerifyBundleRequest,
};
use phylax_core::policy::Engine as CoreEngine;
use phylax_core::{calls::parse_request, Answer};

use crate::bindings::exports::phylax::core::policy::{Engine, Guest, GuestEngine};
use crate::{plain_json, Component};

/// The `engine` resource: one built core engine.
#[derive(Debug)]
pub struct EngineHandle {
    engine: CoreEngine,
}

impl Guest for Component {
    type Engine = EngineHandle;

    fn validate_policies(request_json: String) -> String {
        match parse_request::<ValidateRequest>(&request_json) {
            Ok(req) => plain_json(&validate_policies(&req)),
            Err(body) => Answer::<()>::Error(body).to_json(),
        }
    }

    fn verify_bundle(request_json: String) -> String {
        call_json(&request_json, |req: &VerifyBundleRequest| {
            verify_bundle(req)
        })
    }

    fn plan_to_sql(request_json: String) -> String {
        plan_to_sql_json(&request_json)
    }
}

impl GuestEngine for EngineHandle {
    fn build(spec_json: String) -> Result<Engine, String> {
        build_engine_json(&spec_json).map(|engine| Engine::new(Self { engine }))
    }

    fn load_bundle(request_json: String) -> Result<Engine, String> {
        load_bundle_json(&request_json).map(|engine| Engine::new(Self { engine }))
    }

    fn info(&self) -> String {
        plain_json(&engine_info(&self.engine))
    }

    fn authorize(&self, request_json: String) -> String {
        authorize_json(&self.engine, &request_json)
    }

    fn authorize_batch(&self, request_json: String) -> String {
        authorize_batch_json(&self.engine, &request_json)
    }

    fn readable_fields(&self, request_json: String) -> String {
        readable_fields_json(&self.engine, &request_json)
    }

    fn plan_resources(&self, request_json: String) -> String {
        plan_resources_json(&self.engine, &request_json)
    }
}
