"""hostile.json: inputs built to crash, stall or confuse, each with its stable code.

Every limit of `core/src/limits.rs` is tried just under and just over, and far over (the
sizes that used to overflow a native thread or the WebAssembly stack). Each hostile
case on engine `small` is followed by a known-good decision on the same engine, so a
runtime that kept computing on a corrupted instance fails the case after it. The limits
are stated here from the documentation (docs/security.md), not read from the code.
"""

import copy

import cases_bad_input as bad
from common import case, error, includes, ok

# The documented limits.
MAX_POLICY_NESTING = 32
MAX_POLICY_OPERATORS = 256
MAX_SCHEMA_NESTING = 32
MAX_VALUE_NESTING = 32
MAX_REQUEST_ENTITIES = 1000

SCHEMA = bad.SCHEMA
USER = {"type": "User", "id": "ann"}
DOC = {"type": "Doc", "id": "d1"}
ACME = {"type": "Tenant", "id": "acme"}


def spec_with_policy(condition):
    text = f"permit (principal, action == Action::\"read\", resource) when {{ {condition} }};\n"
    return dict(copy.deepcopy(bad.SPEC), platformPolicies=[{"name": "hostile.cedar", "text": text}])


def spec_with_schema(schema):
    return dict(copy.deepcopy(bad.SPEC), schema=schema)


def parens(n):
    return "(" * n + "context.mfa" + ")" * n


def ifs(n):
    expr = "context.mfa"
    for _ in range(n):
        expr = f"if context.mfa then {expr} else false"
    return expr


def chain(terms):
    return " || ".join(["context.mfa"] * terms)


def record_schema(n):
    """An entity type whose attributes nest `n` record types deep."""
    shape = "{ b: Long }"
    for _ in range(n - 1):
        shape = "{ a: " + shape + " }"
    return SCHEMA + "entity Deep = " + shape + ";\n"


def nested_value(n):
    """A JSON value nested `n` levels: a record holding `n - 1` nested arrays."""
    value = 1
    for _ in range(n - 1):
        value = [value]
    return {"deep": value}


def entity(uid, tenant, owner=None):
    attrs = {"tenant": tenant}
    if owner is not None:
        attrs["owner"] = owner
    return {"uid": uid, "attrs": attrs, "parents": []}


GOOD = {
    "principal": USER, "action": {"type": "Action", "id": "read"}, "resource": DOC, "context": {"mfa": True},
    "entities": [entity(USER, ACME), entity(DOC, ACME, USER)],
}
GOOD_ANSWER = includes({"decision": "allow", "policies": ["owner-read"]})


def cases():
    out = []

    def add(name, op, request, expect, **ctx):
        out.append(case(name, op, request, expect, **ctx))
        if ctx.get("engine") == "small" or op in ("buildEngine", "validatePolicies"):
            out.append(case(f"{name} / then a good decision", "authorize", GOOD, GOOD_ANSWER, engine="small"))

    deep = error("limit.nesting_too_deep")
    # Policy text: nesting of brackets and `if`s (the `when { }` braces count once).
    add("policy/nested parentheses at the limit", "buildEngine",
        spec_with_policy(parens(MAX_POLICY_NESTING - 1)), includes({}))
    add("policy/nested parentheses over the limit", "buildEngine",
        spec_with_policy(parens(MAX_POLICY_NESTING)), deep)
    add("policy/1000 nested parentheses", "buildEngine", spec_with_policy(parens(1000)), deep)
    add("policy/125 nested parentheses in validatePolicies", "validatePolicies",
        {"schema": SCHEMA, "policies": [{"name": "p.cedar", "text": f"permit(principal, action, resource) when {{ {parens(125)} }};"}]},
        includes({"valid": False, "error": {"code": "limit.nesting_too_deep"}}))
    add("policy/500 nested if-then-else", "buildEngine", spec_with_policy(ifs(500)), deep)
    add("policy/1000 nested sets", "buildEngine", spec_with_policy("[" * 1000 + "1" + "]" * 1000 + " == [1]"), deep)
    add("policy/1000 nested records", "buildEngine", spec_with_policy("{a:" * 1000 + "1" + "}" * 1000 + " == {a: 1}"), deep)
    # Operators per policy: a chain is a left-deep tree.
    # `n` terms are `n - 1` `||` and `n` `.`; the policy's `action ==` adds one.
    add("policy/an || chain at the operator limit", "buildEngine",
        spec_with_policy(chain(MAX_POLICY_OPERATORS // 2)), includes({}))
    add("policy/an || chain over the operator limit", "buildEngine",
        spec_with_policy(chain(MAX_POLICY_OPERATORS // 2 + 1)), error("limit.expression_too_long"))
    add("policy/a 10000-term || chain", "buildEngine", spec_with_policy(chain(10000)),
        error("limit.expression_too_long"))
    add("policy/a file over 256 KiB", "buildEngine",
        spec_with_policy("context.mfa // " + "x" * (256 * 1024)), error("limit.source_too_large"))
    # Schemas: record and set types.
    add("schema/records nested at the limit", "buildEngine", spec_with_schema(record_schema(MAX_SCHEMA_NESTING)),
        includes({}))
    add("schema/records nested over the limit", "buildEngine",
        spec_with_schema(record_schema(MAX_SCHEMA_NESTING + 1)), deep)
    add("schema/1000 nested records", "buildEngine", spec_with_schema(record_schema(1000)), deep)
    add("schema/100 nested sets", "buildEngine",
        spec_with_schema(SCHEMA + "entity S = { s: " + "Set<" * 100 + "Long" + ">" * 100 + " };\n"), deep)
    json_schema = {"": {"entityTypes": {}, "actions": {}}}
    node = json_schema[""]["entityTypes"]
    node["Deep"] = {"shape": {"type": "Record", "attributes": {}}}
    attrs = node["Deep"]["shape"]["attributes"]
    for _ in range(60):
        inner = {"type": "Record", "attributes": {}}
        attrs["a"] = inner
        attrs = inner["attributes"]
    import json
    add("schema/JSON schema nested 60 records", "buildEngine", spec_with_schema(json.dumps(json_schema)), deep)

    # Values Cedar parses: the context and entity attributes.
    add("authorize/context nested at the limit", "authorize",
        dict(GOOD, context=dict(nested_value(MAX_VALUE_NESTING), mfa=True)), error("policy.invalid_request"),
        engine="small")
    add("authorize/context nested over the limit", "authorize",
        dict(GOOD, context=dict(nested_value(MAX_VALUE_NESTING + 1), mfa=True)), deep, engine="small")
    add("authorize/context nested 100 deep", "authorize",
        dict(GOOD, context=dict(nested_value(100), mfa=True)), deep, engine="small")
    deep_entity = entity(USER, ACME)
    deep_entity["attrs"]["x"] = nested_value(MAX_VALUE_NESTING)
    add("authorize/entity attributes nested over the limit", "authorize",
        dict(GOOD, entities=[deep_entity, entity(DOC, ACME, USER)]), deep, engine="small")
    # Entities per request, and one uid twice (the decision would depend on order).
    many = [entity({"type": "User", "id": f"u{i}"}, ACME) for i in range(MAX_REQUEST_ENTITIES - 1)]
    add("authorize/entities at the limit", "authorize",
        dict(GOOD, entities=GOOD["entities"][1:] + many[:-1] + GOOD["entities"][:1]), GOOD_ANSWER, engine="small")
    add("authorize/entities over the limit", "authorize",
        dict(GOOD, entities=GOOD["entities"] + many), error("limit.too_many_entities"), engine="small")
    evil = {"type": "Tenant", "id": "evil"}
    for order, entities in [("acme first", [entity(DOC, ACME, USER), entity(DOC, evil, USER)]),
                            ("evil first", [entity(DOC, evil, USER), entity(DOC, ACME, USER)])]:
        add(f"authorize/the resource twice, {order}", "authorize",
            dict(GOOD, entities=[entity(USER, ACME)] + entities), error("policy.invalid_entities"), engine="small")
    add("authorize/the principal twice, identical", "authorize",
        dict(GOOD, entities=GOOD["entities"] + [entity(USER, ACME)]), error("policy.invalid_entities"), engine="small")
    return out


def suites():
    description = (
        "Hostile inputs: deep nesting, long chains, oversized texts, too many or duplicate entities. "
        "Each is refused with its `limit.*` or `policy.*` code before recursive code runs, and the "
        "engine still answers a known-good request correctly afterwards. Engine `small` is "
        "bad-input.json's."
    )
    return [("hostile", description, {"engines": {"small": {"spec": bad.SPEC}}}, cases())]
