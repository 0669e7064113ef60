//! Limits on what callers send, checked before any recursive code sees it.
//!
//! Cedar parses, validates and evaluates policies, schemas and values recursively. A
//! small input can nest deep: 100 nested parentheses took over 1 MiB of native stack
//! (release build, measured), and a wasm32 stack overflow writes over linear memory.
//! So every input is measured here first, by flat scans that use no recursion, and
//! refused with a distinct code when it is over a limit; what passes fits in a 1 MiB
//! stack with room to spare. The limits are generous for real policies and requests.
//!
//! | limit | value | code |
//! | --- | --- | --- |
//! | one policy file or schema, bytes | [`MAX_SOURCE_BYTES`] (256 KiB) | `limit.source_too_large` |
//! | all policy text of an engine, bytes | [`MAX_TOTAL_POLICY_BYTES`] (4 MiB) | `limit.source_too_large` |
//! | nesting of `()`, `[]`, `{}` and `if` in a policy | [`MAX_POLICY_NESTING`] (32) | `limit.nesting_too_deep` |
//! | operators in one policy (`&&`, `==`, `.`, `in`, ...) | [`MAX_POLICY_OPERATORS`] (256) | `limit.expression_too_long` |
//! | nesting of `{}`, `[]`, `<>` in a schema | [`MAX_SCHEMA_NESTING`] (32; JSON schemas 72) | `limit.nesting_too_deep` |
//! | nesting of a JSON value (context, entity attributes) | [`MAX_VALUE_NESTING`] (32) | `limit.nesting_too_deep` |
//! | nesting of one policy in Cedar's JSON form (signed bundles) | [`MAX_POLICY_JSON_NESTING`] (96) | `limit.nesting_too_deep` |
//! | entities one request brings | [`MAX_REQUEST_ENTITIES`] (1,000) | `limit.too_many_entities` |
//! | base entities of an engine | [`MAX_BASE_ENTITIES`] (1,000,000) | `limit.too_many_entities` |
//! | items of one batch, fields of one field check | [`MAX_BATCH_ITEMS`], [`MAX_FIELDS`] (1,000 each) | `limit.too_many_items` |

use crate::error::Diagnostic;

/// Largest policy file or schema text, bytes.
pub const MAX_SOURCE_BYTES: usize = 256 * 1024;
/// Largest total policy text of one engine (every layer), bytes.
pub const MAX_TOTAL_POLICY_BYTES: usize = 4 * 1024 * 1024;
/// Deepest nesting of brackets and `if` inside one policy.
pub const MAX_POLICY_NESTING: usize = 32;
/// Most operators in one policy: Cedar builds a left-deep tree of a chain, and its
/// evaluator needs about 2 KiB of stack per link (release build; a 500-link `||` chain
/// was already denied for lack of stack on a 1 MiB thread). The healthcare pack's
/// largest policy has 12.
pub const MAX_POLICY_OPERATORS: usize = 256;
/// Deepest nesting of a Cedar-syntax schema (record and set types).
pub const MAX_SCHEMA_NESTING: usize = 32;
/// Deepest nesting of a JSON-format schema (two JSON levels per record level, and the
/// namespace around them: a Cedar-syntax schema at its limit is 65 deep in JSON form,
/// the form signed bundles carry).
pub const MAX_JSON_SCHEMA_NESTING: usize = 72;
/// Deepest nesting of a JSON value Cedar parses (a context, an entity's attributes).
pub const MAX_VALUE_NESTING: usize = 32;
/// Deepest nesting of one policy in Cedar's JSON policy format, the form signed bundles
/// carry beside the text (two JSON levels per operator: a text policy at its operator
/// limit can be far deeper, and then its file is signed as text alone). Below
/// serde_json's own limit of 128 for the whole bundle around it.
pub const MAX_POLICY_JSON_NESTING: usize = 96;
/// Most entities one request may bring.
pub const MAX_REQUEST_ENTITIES: usize = 1_000;
/// Most base entities of one engine.
pub const MAX_BASE_ENTITIES: usize = 1_000_000;
/// Most items of one `authorizeBatch`.
pub const MAX_BATCH_ITEMS: usize = 1_000;
/// Most fields of one `readableFields`.
pub const MAX_FIELDS: usize = 1_000;

/// An input over a limit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LimitError {
    /// A text is larger than its limit.
    #[error("{what} is {found} bytes, over the limit of {max}")]
    SourceTooLarge {
        /// Which text.
        what: String,
        /// Its size.
        found: usize,
        /// The limit.
        max: usize,
    },
    /// Brackets, `if`s or types nest deeper than the limit.
    #[error("{what} nests {found} levels deep at line {line}, over the limit of {max}")]
    NestingTooDeep {
        /// Which input.
        what: String,
        /// How deep it got (the scan stops at the limit plus one).
        found: usize,
        /// The limit.
        max: usize,
        /// 1-based line where the limit was crossed (1 for JSON values).
        line: usize,
    },
    /// One policy has more operators than the limit.
    #[error("{what} has a policy with over {max} operators (at line {line})")]
    ExpressionTooLong {
        /// Which file.
        what: String,
        /// The limit.
        max: usize,
        /// 1-based line where the limit was crossed.
        line: usize,
    },
    /// More items (batch items, fields) than the limit.
    #[error("{what}: {found}, over the limit of {max}")]
    TooManyItems {
        /// What was counted.
        what: &'static str,
        /// How many were sent.
        found: usize,
        /// The limit.
        max: usize,
    },
    /// More entities than the limit.
    #[error("{what}: {found} entities, over the limit of {max}")]
    TooManyEntities {
        /// Whose entities.
        what: &'static str,
        /// How many were sent.
        found: usize,
        /// The limit.
        max: usize,
    },
}

impl Diagnostic for LimitError {
    fn code(&self) -> &'static str {
        match self {
            Self::SourceTooLarge { .. } => "limit.source_too_large",
            Self::NestingTooDeep { .. } => "limit.nesting_too_deep",
            Self::ExpressionTooLong { .. } => "limit.expression_too_long",
            Self::TooManyEntities { .. } => "limit.too_many_entities",
            Self::TooManyItems { .. } => "limit.too_many_items",
        }
    }

    fn hint(&self) -> &'static str {
        match self {
            Self::SourceTooLarge { .. } => "split the policies into smaller files, or keep fewer policies per engine",
            Self::NestingTooDeep { .. } => "flatten the expression or type: name intermediate values with attributes, or split the condition into several policies",
            Self::ExpressionTooLong { .. } => "split the condition into several policies, or move long lists into an entity attribute or a set",
            Self::TooManyEntities { .. } => "send only the entities the decision needs (principal, resource and what they reference); keep shared entities in the engine's base",
            Self::TooManyItems { .. } => "split the request into several smaller ones",
        }
    }
}

fn too_large(what: &str, found: usize, max: usize) -> Result<(), LimitError> {
    if found > max {
        return Err(LimitError::SourceTooLarge {
            what: what.to_owned(),
            found,
            max,
        });
    }
    Ok(())
}

/// Checks a total of policy text bytes.
pub fn check_total_policy_bytes(total: usize) -> Result<(), LimitError> {
    too_large("the policy text", total, MAX_TOTAL_POLICY_BYTES)
}

/// Checks a count of entities.
pub fn check_entity_count(what: &'static str, found: usize, max: usize) -> Result<(), LimitError> {
    if found > max {
        return Err(LimitError::TooManyEntities { what, found, max });
    }
    Ok(())
}

/// Checks a count of items.
pub fn check_count(what: &'static str, found: usize, max: usize) -> Result<(), LimitError> {
    if found > max {
        return Err(LimitError::TooManyItems { what, found, max });
    }
    Ok(())
}

/// A flat scanner over Cedar policy or schema text that skips string literals and `//`
/// comments and reports brackets and identifier-like words.
struct Scanner<'a> {
    bytes: &'a [u8],
    at: usize,
    line: usize,
}

/// What the scanner found next.
#[derive(Debug, PartialEq, Eq)]
enum Token<'a> {
    Open(u8),
    Close(u8),
    Word(&'a [u8]),
    Punct(u8),
}

impl<'a> Scanner<'a> {
    fn new(text: &'a str) -> Self {
        Self {
            bytes: text.as_bytes(),
            at: 0,
            line: 1,
        }
    }

    fn peek(&self, ahead: usize) -> Option<u8> {
        self.bytes.get(self.at + ahead).copied()
    }

    fn next(&mut self) -> Option<Token<'a>> {
        loop {
            let b = self.peek(0)?;
            match b {
                b'\n' => {
                    self.line += 1;
                    self.at += 1;
                }
                b'"' => {
                    // A string literal: skip to its closing quote, honouring escapes.
                    self.at += 1;
                    while let Some(c) = self.peek(0) {
                        self.at += 1;
                        match c {
                            b'\\' => self.at += 1,
                            b'"' => break,
                            b'\n' => self.line += 1,
                            _ => {}
                        }
                    }
                }
                b'/' if self.peek(1) == Some(b'/') => {
                    while let Some(c) = self.peek(0) {
                        if c == b'\n' {
                            break;
                        }
                        self.at += 1;
                    }
                }
                b'(' | b'[' | b'{' => {
                    self.at += 1;
                    return Some(Token::Open(b));
                }
                b')' | b']' | b'}' => {
                    self.at += 1;
                    return Some(Token::Close(b));
                }
                c if c.is_ascii_alphanumeric() || c == b'_' => {
                    let start = self.at;
                    while self
                        .peek(0)
                        .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_')
                    {
                        self.at += 1;
                    }
                    return Some(Token::Word(
                        self.bytes.get(start..self.at).unwrap_or_default(),
                    ));
                }
                c if c.is_ascii_whitespace() => self.at += 1,
                c => {
                    self.at += 1;
                    return Some(Token::Punct(c));
                }
            }
        }
    }
}

/// Checks one policy file's text: size, nesting and operators per policy.
///
/// Nesting counts brackets and `if`s: an `if` stays open until the bracket group it is
/// in closes or the policy ends, so a run of sequential `if`s in one group counts as
/// nested (an over-estimate, never an under-estimate).
pub fn check_policy_text(what: &str, text: &str) -> Result<(), LimitError> {
    too_large(what, text.len(), MAX_SOURCE_BYTES)?;
    let mut s = Scanner::new(text);
    // Per open bracket: how many `if`s were opened inside it.
    let mut groups: Vec<usize> = Vec::new();
    let mut depth = 0usize;
    let mut operators = 0usize;
    let mut prev: Option<u8> = None;
    let deep = |s: &Scanner<'_>, depth| LimitError::NestingTooDeep {
        what: what.to_owned(),
        found: depth,
        max: MAX_POLICY_NESTING,
        line: s.line,
    };
    while let Some(token) = s.next() {
        let mut operator = false;
        match token {
            Token::Open(_) => {
                groups.push(0);
                depth += 1;
            }
            Token::Close(_) => {
                let ifs = groups.pop().unwrap_or(0);
                depth = depth.saturating_sub(1 + ifs);
            }
            Token::Word(b"if") => {
                if let Some(n) = groups.last_mut() {
                    *n += 1;
                }
                depth += 1;
            }
            Token::Word(b"in" | b"has" | b"like" | b"is") => operator = true,
            Token::Word(_) => {}
            Token::Punct(b';') => {
                // A policy ends: reset its counts.
                groups.clear();
                depth = 0;
                operators = 0;
            }
            Token::Punct(c) => {
                // `&&`, `||`, `==` count at their second character; `!=`, `<=`, `>=`
                // at their first; `<`, `>`, `+`, `-`, `*`, `.`, `!` once each.
                operator = match c {
                    b'&' | b'|' | b'=' => prev == Some(c),
                    b'<' | b'>' | b'+' | b'-' | b'*' | b'.' | b'!' => true,
                    _ => false,
                };
            }
        }
        if depth > MAX_POLICY_NESTING {
            return Err(deep(&s, depth));
        }
        if operator {
            operators += 1;
            if operators > MAX_POLICY_OPERATORS {
                return Err(LimitError::ExpressionTooLong {
                    what: what.to_owned(),
                    max: MAX_POLICY_OPERATORS,
                    line: s.line,
                });
            }
        }
        // A doubled operator is counted once: `&&&&` is two, not three.
        prev = match token {
            Token::Punct(c) if !operator || !matches!(c, b'&' | b'|' | b'=') => Some(c),
            _ => None,
        };
    }
    Ok(())
}

/// Checks a schema's text (Cedar syntax or JSON format): size and type nesting.
pub fn check_schema_text(what: &str, text: &str) -> Result<(), LimitError> {
    too_large(what, text.len(), MAX_SOURCE_BYTES)?;
    let max = if text.trim_start().starts_with('{') {
        MAX_JSON_SCHEMA_NESTING
    } else {
        MAX_SCHEMA_NESTING
    };
    let mut s = Scanner::new(text);
    let mut depth = 0usize;
    while let Some(token) = s.next() {
        match token {
            Token::Open(_) | Token::Punct(b'<') => depth += 1,
            Token::Close(_) | Token::Punct(b'>') => depth = depth.saturating_sub(1),
            _ => {}
        }
        if depth > max {
            return Err(LimitError::NestingTooDeep {
                what: what.to_owned(),
                found: depth,
                max,
                line: s.line,
            });
        }
    }
    Ok(())
}

/// Checks how deep a JSON value nests, without recursion.
pub fn check_value_nesting(what: &str, value: &serde_json::Value) -> Result<(), LimitError> {
    check_json_nesting(what, value, MAX_VALUE_NESTING)
}

/// Checks that a JSON value nests at most `max` deep, without recursion.
pub fn check_json_nesting(
    what: &str,
    value: &serde_json::Value,
    max: usize,
) -> Result<(), LimitError> {
    use serde_json::Value;
    let mut stack: Vec<(&Value, usize)> = vec![(value, 0)];
    while let Some((v, depth)) = stack.pop() {
        let children: Box<dyn Iterator<Item = &Value>> = match v {
            Value::Object(map) => Box::new(map.values()),
            Value::Array(items) => Box::new(items.iter()),
            _ => continue,
        };
        let depth = depth + 1;
        if depth > max {
            return Err(LimitError::NestingTooDeep {
                what: what.to_owned(),
                found: depth,
                max,
                line: 1,
            });
        }
        stack.extend(children.map(|c| (c, depth)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly")]
    use super::*;

    fn code(r: Result<(), LimitError>) -> &'static str {
        r.err().map_or("ok", |e| e.code())
    }

    #[test]
    fn policy_nesting_counts_brackets_and_ifs_not_strings_or_comments() {
        let nested = |n: usize| {
            format!(
                "permit(principal, action, resource) when {{ {}true{} }};",
                "(".repeat(n),
                ")".repeat(n)
            )
        };
        // `when {` and `permit(` close before the nesting: the braces count once.
        assert_eq!(code(check_policy_text("p", &nested(31))), "ok");
        assert_eq!(
            code(check_policy_text("p", &nested(32))),
            "limit.nesting_too_deep"
        );
        let mut ifs = String::from("true");
        for _ in 0..40 {
            ifs = format!("if true then {ifs} else false");
        }
        let text = format!("permit(principal, action, resource) when {{ {ifs} }};");
        assert_eq!(
            code(check_policy_text("p", &text)),
            "limit.nesting_too_deep"
        );
        let quoted = format!(
            "permit(principal, action, resource) when {{ principal.name == \"{}\\\"\" }}; // {}\n",
            "(".repeat(500),
            "[".repeat(500)
        );
        assert_eq!(code(check_policy_text("p", &quoted)), "ok");
        // Every policy starts afresh.
        let many: String = (0..100).map(|_| nested(20)).collect();
        assert_eq!(code(check_policy_text("p", &many)), "ok");
    }

    #[test]
    fn operator_chains_are_bounded_per_policy() {
        let chain = |n: usize| {
            format!(
                "permit(principal, action, resource) when {{ {} }};",
                vec!["context.mfa"; n].join(" || ")
            )
        };
        // n terms: n - 1 `||` and n `.`.
        assert_eq!(code(check_policy_text("p", &chain(128))), "ok");
        assert_eq!(
            code(check_policy_text("p", &chain(129))),
            "limit.expression_too_long"
        );
        let text = "permit (principal, action == Action::\"read\", resource) when { context.mfa };";
        assert_eq!(
            code(check_policy_text(
                "p",
                &text.replace("context.mfa", &vec!["context.mfa"; 128].join(" || "))
            )),
            "ok"
        );
        let per_policy: String = (0..10).map(|_| chain(120)).collect();
        assert_eq!(code(check_policy_text("p", &per_policy)), "ok");
    }

    #[test]
    fn schemas_and_values_are_bounded() {
        let record =
            |n: usize| format!("entity A = {}b: Long{};", "{ a: ".repeat(n), " }".repeat(n));
        assert_eq!(code(check_schema_text("s", &record(31))), "ok");
        assert_eq!(
            code(check_schema_text("s", &record(33))),
            "limit.nesting_too_deep"
        );
        let sets = format!(
            "entity A = {{ a: {}Long{} }};",
            "Set<".repeat(40),
            ">".repeat(40)
        );
        assert_eq!(
            code(check_schema_text("s", &sets)),
            "limit.nesting_too_deep"
        );
        let big = "x".repeat(MAX_SOURCE_BYTES + 1);
        assert_eq!(code(check_schema_text("s", &big)), "limit.source_too_large");
        let mut v = serde_json::json!(1);
        for _ in 0..32 {
            v = serde_json::json!([v]);
        }
        assert_eq!(code(check_value_nesting("v", &v)), "ok");
        v = serde_json::json!({ "a": v });
        assert_eq!(code(check_value_nesting("v", &v)), "limit.nesting_too_deep");
    }
}
