//! Policy sources: parsing policy files into policies with stable ids, strict
//! validation, and diagnostics that point at file, line and column.
//!
//! Policy ids: a policy with an `@id("...")` annotation takes that id; others are
//! numbered `policy0`, `policy1`, ... in source order across the files of one layer
//! (Cedar's own numbering, so Cedar's integration tests keep their expected ids).
//! A tenant's policies are prefixed with the tenant: `acme/policy0`, `acme/allow-x`,
//! so an answer always says which layer decided.

use std::collections::HashMap;
use std::str::FromStr;

use cedar_policy::{Policy, PolicyId, PolicySet, Schema};
#[cfg(feature = "authoring")]
use cedar_policy::{ValidationMode, Validator};
use serde::{Deserialize, Serialize};

use super::error::{PolicyError, SourceDiagnostic};

/// One file of Cedar policies.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PolicyFile {
    /// File name, used in diagnostics, e.g. `healthcare.cedar`.
    pub name: String,
    /// The Cedar source text.
    pub text: String,
    /// The same policies in Cedar's JSON policy format, in source order, as signers write
    /// them into bundles ([`super::Bundle::in_runtime_form`]). A build without
    /// `authoring` (the npm runtime entry) loads these instead of parsing the text:
    /// Cedar's policy grammar and the regular expressions of its lexer were most of
    /// the WebAssembly cold start. A build with `authoring` parses the text and refuses
    /// a JSON form that is not the text's own. Absent from files as authors write them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json: Option<Vec<serde_json::Value>>,
}

impl PolicyFile {
    /// A file from its name and text.
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            text: text.into(),
            json: None,
        }
    }
}

/// Parsed policies of one layer, with the file each came from.
#[derive(Debug, Default)]
pub(crate) struct ParsedLayer {
    /// Policies in source order, with their final ids.
    pub policies: Vec<Policy>,
    /// Final id → index of the file it came from.
    pub origin: HashMap<PolicyId, usize>,
}

/// Line and column (1-based) of a byte offset in `text`.
pub(crate) fn line_col(text: &str, offset: usize) -> (u32, u32) {
    let mut line = 1u32;
    let mut col = 1u32;
    for (i, ch) in text.char_indices() {
        if i >= offset {
            break;
        }
        if ch == '\n' {
            line = line.saturating_add(1);
            col = 1;
        } else {
            col = col.saturating_add(1);
        }
    }
    (line, col)
}

/// The first labelled location of a miette diagnostic, as line and column in `text`.
fn location(diag: &dyn miette::Diagnostic, text: &str) -> (u32, u32) {
    diag.labels()
        .and_then(|mut labels| labels.next())
        .map_or((0, 0), |label| line_col(text, label.offset()))
}

/// Message of a cedar error with its causes and help text, on one line.
pub(crate) fn one_line(diag: &dyn miette::Diagnostic) -> String {
    let mut msg = diag.to_string();
    let mut cause = diag.source();
    while let Some(err) = cause {
        let text = err.to_string();
        if !msg.contains(&text) {
            msg.push_str(": ");
            msg.push_str(&text);
        }
        cause = err.source();
    }
    if let Some(related) = diag.related() {
        for rel in related {
            let text = rel.to_string();
            if !msg.contains(&text) {
                msg.push_str(": ");
                msg.push_str(&text);
            }
        }
    }
    if let Some(help) = diag.help() {
        msg.push_str(" (");
        msg.push_str(&help.to_string());
        msg.push(')');
    }
    msg
}

/// The numeric suffix of Cedar's automatic `policyN` id, for source ordering.
fn auto_index(id: &PolicyId) -> usize {
    AsRef::<str>::as_ref(id)
        .strip_prefix("policy")
        .and_then(|n| n.parse().ok())
        .unwrap_or(usize::MAX)
}

/// Parses the files of one layer; `prefix` is prepended to every id (`""` for the
/// platform layer, `"acme/"` for tenant `acme`).
pub(crate) fn parse_layer(files: &[PolicyFile], prefix: &str) -> Result<ParsedLayer, PolicyError> {
    let mut layer = ParsedLayer::default();
    let mut diagnostics = Vec::new();
    let mut counter = 0usize;
    for (file_index, file) in files.iter().enumerate() {
        crate::limits::check_policy_text(&file.name, &file.text)?;
        let policies = match file_policies(file) {
            Ok(policies) => policies,
            Err(PolicyError::Parse { diagnostics: found }) => {
                diagnostics.extend(found);
                continue;
            }
            Err(err) => return Err(err),
        };
        for policy in policies {
            let base = match policy.annotation("id") {
                Some(id) => id.to_owned(),
                None => format!("policy{counter}"),
            };
            counter = counter.saturating_add(1);
            let id = PolicyId::new(format!("{prefix}{base}"));
            if layer.origin.insert(id.clone(), file_index).is_some() {
                return Err(PolicyError::DuplicatePolicyId { id: id.to_string() });
            }
            layer.policies.push(policy.new_id(id));
        }
    }
    if diagnostics.is_empty() {
        Ok(layer)
    } else {
        Err(PolicyError::Parse { diagnostics })
    }
}

/// A parse error of a whole file, without a line (Cedar's JSON forms carry none).
fn file_error(file: &PolicyFile, message: String) -> PolicyError {
    PolicyError::Parse {
        diagnostics: vec![SourceDiagnostic {
            file: file.name.clone(),
            line: 0,
            column: 0,
            policy: None,
            message,
        }],
    }
}

/// The policies of one file in source order, from its text; templates are refused.
fn parse_text(file: &PolicyFile) -> Result<Vec<Policy>, PolicyError> {
    let set = PolicySet::from_str(&file.text).map_err(|errs| PolicyError::Parse {
        diagnostics: errs
            .iter()
            .map(|err| {
                let (line, column) = location(err, &file.text);
                SourceDiagnostic {
                    file: file.name.clone(),
                    line,
                    column,
                    policy: None,
                    message: one_line(err),
                }
            })
            .collect(),
    })?;
    if set.templates().next().is_some() {
        return Err(file_error(
            file,
            "policy templates (`?principal`, `?resource`) are not supported; write static policies"
                .to_owned(),
        ));
    }
    let mut policies: Vec<Policy> = set.policies().cloned().collect();
    policies.sort_by_key(|p| auto_index(p.id()));
    Ok(policies)
}

/// The policies of one file, in source order: from the text, and a JSON form beside it
/// must be the text's own (it is what the runtime entry decides with).
#[cfg(feature = "authoring")]
fn file_policies(file: &PolicyFile) -> Result<Vec<Policy>, PolicyError> {
    let policies = parse_text(file)?;
    if let Some(json) = &file.json {
        let same = json.len() == policies.len()
            && policies
                .iter()
                .zip(json)
                .all(|(policy, given)| policy.to_json().is_ok_and(|own| &own == given));
        if !same {
            return Err(PolicyError::BundleMalformed {
                reason: format!(
                    "the JSON form of `{}` is not the JSON form of its text",
                    file.name
                ),
            });
        }
    }
    Ok(policies)
}

/// The policies of one file, in source order: from its JSON form when it has one (every
/// bundle a current signer writes), else from its text.
#[cfg(not(feature = "authoring"))]
fn file_policies(file: &PolicyFile) -> Result<Vec<Policy>, PolicyError> {
    let Some(json) = &file.json else {
        return parse_text(file);
    };
    json.iter()
        .map(|value| {
            crate::limits::check_json_nesting(
                &file.name,
                value,
                crate::limits::MAX_POLICY_JSON_NESTING,
            )?;
            Policy::from_json(None, value.clone()).map_err(|err| file_error(file, one_line(&err)))
        })
        .collect()
}

/// A file's policies in Cedar's JSON policy format, in source order, for a signed
/// bundle; `None` when a policy nests deeper in that form than
/// [`crate::limits::MAX_POLICY_JSON_NESTING`] (the file is then signed as text alone,
/// which every entry still loads).
#[cfg(feature = "authoring")]
pub(crate) fn policies_json_form(
    file: &PolicyFile,
) -> Result<Option<Vec<serde_json::Value>>, PolicyError> {
    crate::limits::check_policy_text(&file.name, &file.text)?;
    let mut json = Vec::new();
    for policy in parse_text(file)? {
        let value = policy
            .to_json()
            .map_err(|err| file_error(file, one_line(&err)))?;
        let nesting = crate::limits::MAX_POLICY_JSON_NESTING;
        if crate::limits::check_json_nesting(&file.name, &value, nesting).is_err() {
            return Ok(None);
        }
        json.push(value);
    }
    Ok(Some(json))
}

/// Builds a policy set from policies (ids already unique within each layer).
pub(crate) fn policy_set<'a>(
    layers: impl IntoIterator<Item = &'a ParsedLayer>,
) -> Result<PolicySet, PolicyError> {
    let mut set = PolicySet::new();
    for layer in layers {
        for policy in &layer.policies {
            set.add(policy.clone())
                .map_err(|_| PolicyError::DuplicatePolicyId {
                    id: policy.id().to_string(),
                })?;
        }
    }
    Ok(set)
}

/// Validates a layer in strict mode, mapping each error to its file and line.
#[cfg(feature = "authoring")]
pub(crate) fn validate_layer(
    schema: &Schema,
    layer: &ParsedLayer,
    files: &[PolicyFile],
) -> Result<(), PolicyError> {
    let set = policy_set([layer])?;
    let validator = Validator::new(schema.clone());
    let result = validator.validate(&set, ValidationMode::Strict);
    if result.validation_passed() {
        return Ok(());
    }
    // Cedar reports validation errors in hash-map order, which differs between
    // processes; sorted, the same policies give the same error text in every runtime.
    let mut diagnostics: Vec<SourceDiagnostic> = result
        .validation_errors()
        .map(|err| {
            let id = err.policy_id();
            let file = layer.origin.get(id).and_then(|i| files.get(*i));
            let (line, column) = file.map_or((0, 0), |f| location(err, &f.text));
            SourceDiagnostic {
                file: file.map_or_else(String::new, |f| f.name.clone()),
                line,
                column,
                policy: Some(id.to_string()),
                message: one_line(err),
            }
        })
        .collect();
    diagnostics.sort_by(|a, b| {
        (&a.file, a.line, a.column, &a.message).cmp(&(&b.file, b.line, b.column, &b.message))
    });
    Err(PolicyError::Validation { diagnostics })
}

/// Parses a schema in Cedar syntax, or in Cedar's JSON schema format when the text is
/// a JSON object. A build without `authoring` reads the JSON form only.
pub(crate) fn parse_schema(text: &str, file: &str) -> Result<Schema, PolicyError> {
    crate::limits::check_schema_text(file, text)?;
    if is_json_form(text) {
        return Schema::from_json_str(text).map_err(|err| PolicyError::Schema {
            message: format!("{file}: {}", one_line(&err)),
        });
    }
    parse_schema_text(text, file)
}

fn is_json_form(text: &str) -> bool {
    text.trim_start().starts_with('{')
}

#[cfg(feature = "authoring")]
fn parse_schema_text(text: &str, file: &str) -> Result<Schema, PolicyError> {
    Schema::from_cedarschema_str(text)
        .map(|(schema, _warnings)| schema)
        .map_err(|err| {
            let (line, column) = location(&err, text);
            PolicyError::Schema {
                message: format!("{file}:{line}:{column}: {}", one_line(&err)),
            }
        })
}

#[cfg(not(feature = "authoring"))]
fn parse_schema_text(_text: &str, _file: &str) -> Result<Schema, PolicyError> {
    Err(PolicyError::SchemaTextUnsupported)
}

/// The schema in Cedar's JSON form (RFC 8785 canonical, so the same schema always gives
/// the same text and bundle hash): what a signed bundle carries, so that a runtime
/// without Cedar's schema-text grammar loads it. JSON-form text is returned as it is.
#[cfg(feature = "authoring")]
pub(crate) fn schema_json_form(text: &str, file: &str) -> Result<String, PolicyError> {
    if is_json_form(text) {
        return Ok(text.to_owned());
    }
    crate::limits::check_schema_text(file, text)?;
    let (fragment, _warnings) =
        cedar_policy::SchemaFragment::from_cedarschema_str(text).map_err(|err| {
            let (line, column) = location(&err, text);
            PolicyError::Schema {
                message: format!("{file}:{line}:{column}: {}", one_line(&err)),
            }
        })?;
    let value = fragment
        .to_json_value()
        .map_err(|err| PolicyError::Schema {
            message: format!("{file}: {}", one_line(&err)),
        })?;
    serde_json_canonicalizer::to_string(&value).map_err(|err| PolicyError::Schema {
        message: format!("{file}: {err}"),
    })
}

/// The runtime path (a build without `authoring`, as the npm runtime entry): run with
/// `cargo test -p phylax-core --no-default-features --features policy --lib`.
#[cfg(all(test, not(feature = "authoring")))]
mod runtime_tests {
    #![allow(
        clippy::unwrap_used,
        clippy::indexing_slicing,
        reason = "tests fail loudly"
    )]
    use super::*;
    use crate::error::Diagnostic;

    fn json_of(text: &str) -> Vec<serde_json::Value> {
        let file = PolicyFile::new("a.cedar", text);
        parse_text(&file)
            .unwrap()
            .iter()
            .map(|p| p.to_json().unwrap())
            .collect()
    }

    #[test]
    fn a_file_with_a_json_form_is_loaded_from_it_not_from_its_text() {
        let source = "@id(\"first\") permit (principal, action, resource);\n\
                      forbid (principal, action, resource) when { context.x == 1 };";
        let mut file = PolicyFile::new("a.cedar", "this is not Cedar");
        file.json = Some(json_of(source));
        let layer = parse_layer(&[file.clone()], "acme/").unwrap();
        let ids: Vec<String> = layer.policies.iter().map(|p| p.id().to_string()).collect();
        assert_eq!(ids, ["acme/first", "acme/policy1"]);
        assert_eq!(layer.policies[1].effect(), cedar_policy::Effect::Forbid);
        // Without the JSON form, the text is what is parsed (and here it fails).
        file.json = None;
        let err = parse_layer(&[file], "").unwrap_err();
        assert_eq!(err.code(), "policy.parse_failed");
    }

    #[test]
    fn a_bad_or_too_deep_json_form_is_refused_with_its_code() {
        let mut file = PolicyFile::new("a.cedar", "");
        file.json = Some(vec![serde_json::json!({"effect": "maybe"})]);
        let err = parse_layer(&[file.clone()], "").unwrap_err();
        assert_eq!(err.code(), "policy.parse_failed");
        assert_eq!(err.diagnostics()[0].file, "a.cedar");

        let mut deep = serde_json::json!(true);
        for _ in 0..=crate::limits::MAX_POLICY_JSON_NESTING {
            deep = serde_json::json!([deep]);
        }
        file.json = Some(vec![deep]);
        let err = parse_layer(&[file], "").unwrap_err();
        assert_eq!(err.code(), "limit.nesting_too_deep");
    }
}
