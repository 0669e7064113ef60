"""authz-pack.json and authz-engine.json.

authz-pack: every case of `core/tests/pack_cases.json` (made by
`core/tests/data/gen_pack_cases.py` from the rules in DESIGN.md §1.2, independently of the
`.cedar` files), against the engine the Rust test builds (`core/tests/policy_pack.rs`:
the pack's schema, policies and entities plus the table's `baseEntities`).

authz-engine: decisions stated here by hand from the same rules (DESIGN.md §1.2 and the
comment above each pack policy): tenant layering, batches, field-level reads, base
entities, break-glass, and the codes of bad requests and of specs that must not build.
Bundle hashes are SHA-256 of the spec's RFC 8785 form, computed by `jcs.py`.
"""

import copy

import reference as ref
from common import case, error, includes, ok, read, read_json
from jcs import canonicalize

SCHEMA = read("core", "pack", "healthcare.cedarschema")
POLICIES = read("core", "pack", "healthcare.cedar")
PACK_ENTITIES = read_json("core", "pack", "healthcare.entities.json")

DEFAULT_OPTIONS = {
    "tenantType": "Tenant",
    "tenantAttribute": "tenant",
    "fieldAction": {"type": "Action", "id": "readField"},
    "fieldType": "Field",
}


def pack_spec(entities, tenant_policies=None):
    return {
        "schema": SCHEMA,
        "platformPolicies": [{"name": "healthcare.cedar", "text": POLICIES}],
        "tenantPolicies": tenant_policies or {},
        "entities": PACK_ENTITIES + entities,
    }


def spec_hash(spec) -> str:
    """`sha256:` + hex of the EngineSpec as serialized: defaults written out."""
    full = {"tenantPolicies": {}, "entities": [], "options": DEFAULT_OPTIONS}
    full.update(copy.deepcopy(spec))
    return ref.hash_text(ref.sha256(canonicalize(full)))


# ---------------------------------------------------------------------------------------
# authz-pack


def pack_suite():
    table = read_json("core", "tests", "pack_cases.json")
    spec = pack_spec(table["baseEntities"])
    cases = [
        case(c["name"], "authorize", c["request"],
             includes({"decision": c["decision"], "policies": c["policies"], "errors": [],
                       "auditFlags": c["auditFlags"]}),
             engine="pack")
        for c in table["cases"]
    ]
    description = (
        "The healthcare pack's decision table: every role x action x same/other tenant x MFA x "
        "own/other patient x break-glass case of core/tests/pack_cases.json (generated from the "
        "rules in DESIGN.md 1.2 by core/tests/data/gen_pack_cases.py, not from the .cedar "
        "files), decided by the pack's policies. Each answer must carry the table's decision, "
        "policies and audit flags, and no evaluation errors."
    )
    return "authz-pack", description, {"engines": {"pack": {"spec": spec}}}, cases


# ---------------------------------------------------------------------------------------
# authz-engine


def tenant(t):
    return {"type": "Tenant", "id": t}


def uref(kind, id_):
    return {"type": kind, "id": id_}


def user(uid, tenant_id, role, providers=None):
    attrs = {"tenant": tenant(tenant_id)}
    if providers is not None:
        attrs["providers"] = [uref("User", p) for p in providers]
    return {"uid": uref("User", uid), "attrs": attrs, "parents": [uref("Role", role)]}


def record(rid, tenant_id, patient):
    return {"uid": uref("Record", rid), "attrs": {"tenant": tenant(tenant_id), "patient": uref("User", patient)},
            "parents": []}


def api_key(kid, tenant_id, scopes):
    return {"uid": uref("ApiKey", kid), "attrs": {"tenant": tenant(tenant_id), "scopes": scopes}, "parents": []}


def field_entity(pointer, cls):
    return {"uid": uref("Field", pointer), "attrs": {}, "parents": [uref("FieldClass", cls)]}


BASE = (
    [{"uid": tenant(t), "attrs": {}, "parents": []} for t in ["platform", "acme", "globex"]]
    + [field_entity("/name", "non_clinical"), field_entity("/phone", "non_clinical"),
       field_entity("/diagnosis", "clinical")]
    # A globex provider, patient and record known to the engine itself.
    + [user("gx-doc", "globex", "provider"), user("gx-pat", "globex", "patient", providers=["gx-doc"]),
       record("gx-r", "globex", "gx-pat")]
)

ACME_POLICIES = [{
    "name": "acme.cedar",
    "text": ("// acme lets its staff export its records\n"
             "@id(\"staff-export\")\n"
             "permit (principal in Role::\"staff\", action == Action::\"export\", resource)\n"
             "when { resource.tenant == Tenant::\"acme\" };\n"),
}]
GLOBEX_POLICIES = [{
    "name": "globex.cedar",
    "text": ("// globex permits everything it can: the platform forbids still apply\n"
             "@id(\"all\")\npermit (principal, action, resource);\n"),
}]

PACK = pack_spec(BASE)
LAYERED = pack_spec(BASE, {"acme": ACME_POLICIES, "globex": GLOBEX_POLICIES})
HASH = {"pack": spec_hash(PACK), "layered": spec_hash(LAYERED)}

BREAK_GLASS = "ticket 12: patient unconscious in ER"


def decision(engine, effect, policies=(), flags=()):
    return ok({"decision": effect, "policies": sorted(policies), "errors": [], "auditFlags": sorted(flags),
               "bundleHash": HASH[engine]})


def areq(principal, action, resource, entities=None, context=None, tenant_id=None):
    out = {"principal": principal, "action": uref("Action", action), "resource": resource,
           "context": {"mfa": True} if context is None else context}
    if entities:
        out["entities"] = entities
    if tenant_id is not None:
        out["tenant"] = tenant_id
    return out


def U(uid):
    return uref("User", uid)


def R(rid):
    return uref("Record", rid)


def build_cases():
    out = [
        case("buildEngine/pack spec", "buildEngine", PACK, ok({"bundleHash": HASH["pack"]})),
        case("buildEngine/layered spec", "buildEngine", LAYERED, ok({"bundleHash": HASH["layered"]})),
    ]
    explicit = dict(PACK, options=DEFAULT_OPTIONS)
    out.append(case("buildEngine/default options written out hash the same", "buildEngine", explicit,
                    ok({"bundleHash": HASH["pack"]})))
    minimal = {"schema": SCHEMA, "platformPolicies": [{"name": "healthcare.cedar", "text": POLICIES}]}
    out.append(case("buildEngine/absent tenant policies and entities hash as empty", "buildEngine", minimal,
                    ok({"bundleHash": spec_hash(minimal)})))
    reordered = dict(PACK)
    reordered["entities"] = list(reversed(PACK["entities"]))
    out.append(case("buildEngine/entity order is part of the hash", "buildEngine", reordered,
                    ok({"bundleHash": spec_hash(reordered)})))

    def rejected(name, tenant_id, text, code="policy.tenant_policy_rejected"):
        out.append(case(f"buildEngine/{name}", "buildEngine",
                        pack_spec(BASE, {tenant_id: [{"name": "t.cedar", "text": text}]}), error(code)))

    rejected("tenant policy on another tenant's resources", "acme",
             '@id("x") permit (principal, action, resource in Tenant::"globex");')
    rejected("tenant policy comparing with another tenant", "acme",
             '@id("x") permit (principal, action, resource) when { resource.tenant == Tenant::"globex" };')
    rejected("tenant policy naming another tenant's user", "acme",
             '@id("x") permit (principal == User::"gx-doc", action, resource);')
    rejected("tenant policy naming another tenant's record", "acme",
             '@id("x") permit (principal, action, resource == Record::"gx-r");')
    rejected("tenant id with a slash", "acme/east", '@id("x") permit (principal, action, resource);')
    rejected("empty tenant id", "", '@id("x") permit (principal, action, resource);')
    rejected("tenant policy that fails validation", "acme",
             "permit (principal, action, resource);\n\npermit (principal, action == Action::\"view\", resource)\n"
             "  when { resource.colour == \"red\" };", "policy.validation_failed")
    rejected("tenant policy that does not parse", "acme", "permit (principal action, resource);",
             "policy.parse_failed")
    ok_own = pack_spec(BASE, {"acme": [{"name": "t.cedar",
                                        "text": '@id("x") permit (principal, action, resource in Tenant::"acme");'}]})
    out.append(case("buildEngine/tenant policy naming its own tenant", "buildEngine", ok_own,
                    ok({"bundleHash": spec_hash(ok_own)})))

    def broken(name, mutate, code):
        s = copy.deepcopy(PACK)
        mutate(s)
        out.append(case(f"buildEngine/{name}", "buildEngine", s, error(code)))

    broken("platform policy syntax error", lambda s: s["platformPolicies"].append(
        {"name": "broken.cedar", "text": "permit (principal, action, resource);\npermit (principal action, resource);"}),
        "policy.parse_failed")
    broken("policy template", lambda s: s["platformPolicies"].append(
        {"name": "t.cedar", "text": "permit (principal == ?principal, action, resource);"}), "policy.parse_failed")
    broken("duplicate policy id", lambda s: s["platformPolicies"].append(
        {"name": "dup.cedar", "text": '@id("staff-records") permit (principal, action, resource);'}),
        "policy.duplicate_id")
    broken("platform policy that fails validation", lambda s: s["platformPolicies"].append(
        {"name": "x.cedar", "text": "permit (principal, action, resource) when { principal.nope };"}),
        "policy.validation_failed")
    broken("schema that does not parse", lambda s: s.__setitem__("schema", "entity User = { tenant: };"),
           "policy.schema_invalid")
    broken("base entity of an unknown type", lambda s: s["entities"].append(
        {"uid": uref("Ghost", "g"), "attrs": {}, "parents": []}), "policy.invalid_entities")
    broken("base entity with a wrongly typed attribute", lambda s: s["entities"].append(
        {"uid": U("u"), "attrs": {"tenant": "acme"}, "parents": []}), "policy.invalid_entities")
    return out


def validate_cases():
    def req(policies, **kw):
        out = {"schema": SCHEMA, "policies": policies}
        out.update(kw)
        return out

    platform = [{"name": "healthcare.cedar", "text": POLICIES}]
    return [
        case("validatePolicies/tenant permit for its own staff", "validatePolicies",
             req(ACME_POLICIES, tenant="acme", platformPolicies=platform, entities=BASE),
             ok({"valid": True, "diagnostics": []})),
        case("validatePolicies/the pack's own policies", "validatePolicies", req(platform),
             ok({"valid": True, "diagnostics": []})),
        case("validatePolicies/tenant policy naming another tenant", "validatePolicies",
             req([{"name": "t.cedar", "text": 'permit (principal, action, resource == Tenant::"globex");'}],
                 tenant="acme", platformPolicies=platform),
             includes({"valid": False, "error": {"code": "policy.tenant_policy_rejected"}, "diagnostics": []})),
        case("validatePolicies/tenant policy naming another tenant's base entity", "validatePolicies",
             req([{"name": "t.cedar", "text": 'permit (principal == User::"gx-doc", action, resource);'}],
                 tenant="acme", platformPolicies=platform, entities=BASE),
             includes({"valid": False, "error": {"code": "policy.tenant_policy_rejected"}, "diagnostics": []})),
        case("validatePolicies/unknown attribute", "validatePolicies",
             req([{"name": "t.cedar", "text": "permit (principal, action, resource)\nwhen { resource.nope };"}]),
             includes({"valid": False, "error": {"code": "policy.validation_failed"}})),
        case("validatePolicies/syntax error", "validatePolicies",
             req([{"name": "t.cedar", "text": "permit (principal action, resource);"}]),
             includes({"valid": False, "error": {"code": "policy.parse_failed"}})),
        case("validatePolicies/tenant policy id colliding with a platform id is prefixed", "validatePolicies",
             req([{"name": "t.cedar", "text": '@id("staff-records") permit (principal, action, resource);'}],
                 tenant="acme", platformPolicies=platform),
             ok({"valid": True, "diagnostics": []})),
    ]


def authorize_cases():
    out = []

    def a(name, engine, request, expect):
        out.append(case(f"authorize/{name}", "authorize", request, expect, engine=engine))

    doc = user("doc", "acme", "provider")
    p1 = user("p1", "acme", "patient", providers=["doc"])
    p2 = user("p2", "acme", "patient", providers=["someone-else"])
    nurse = user("nurse", "acme", "staff")
    gx_nurse = user("gx-nurse", "globex", "staff")
    root = user("root", "platform", "platform_admin")
    owner = user("boss", "acme", "owner")
    ta = user("admin", "acme", "tenant_admin")
    gx_ta = user("gx-admin", "globex", "tenant_admin")
    gx_pat2 = user("gx-pat2", "globex", "patient", providers=["someone-else"])

    # Pack rules, including what the table does not cover.
    a("provider updates a record of their patient without MFA", "pack",
      areq(U("doc"), "update", R("r1"), [doc, p1, record("r1", "acme", "p1")], {"mfa": False}),
      decision("pack", "allow", ["provider-own-patients"]))
    a("provider may not update another provider's patient", "pack",
      areq(U("doc"), "update", R("r1"), [doc, p2, record("r1", "acme", "p2")]), decision("pack", "deny"))
    a("provider may not delete", "pack",
      areq(U("doc"), "delete", R("r1"), [doc, p1, record("r1", "acme", "p1")]), decision("pack", "deny"))
    a("base entities: provider and record known to the engine", "pack",
      areq(U("gx-doc"), "update", R("gx-r"), context={"mfa": False}), decision("pack", "allow", ["provider-own-patients"]))
    a("base entities: a request entity replaces the base record", "pack",
      areq(U("gx-doc"), "update", R("gx-r"), [record("gx-r", "globex", "gx-pat2"), gx_pat2], {"mfa": False}),
      decision("pack", "deny"))
    a("base entities: the request brings only the record", "pack",
      areq(U("gx-doc"), "view", R("gx-r2"), [record("gx-r2", "globex", "gx-pat")]),
      decision("pack", "allow", ["provider-own-patients"]))
    a("break-glass view is allowed and flagged", "pack",
      areq(U("root"), "view", R("r1"), [root, record("r1", "acme", "pat")],
           {"mfa": True, "breakGlassReason": BREAK_GLASS}),
      decision("pack", "allow", ["platform-admin-break-glass"], ["break_glass"]))
    a("break-glass with an empty reason is cross-tenant", "pack",
      areq(U("root"), "view", R("r1"), [root, record("r1", "acme", "pat")], {"mfa": True, "breakGlassReason": ""}),
      decision("pack", "deny", ["tenant-isolation-records"], ["cross_tenant_denied"]))
    a("break-glass without MFA", "pack",
      areq(U("root"), "view", R("r1"), [root, record("r1", "acme", "pat")],
           {"mfa": False, "breakGlassReason": BREAK_GLASS}),
      decision("pack", "deny", ["mfa-required-for-admins"], ["mfa_missing"]))
    a("break-glass tenant administration", "pack",
      areq(U("root"), "updateConfig", tenant("acme"), [root], {"mfa": True, "breakGlassReason": BREAK_GLASS}),
      decision("pack", "allow", ["platform-admin-break-glass"], ["break_glass"]))
    a("platform admin creates a tenant", "pack",
      areq(U("root"), "createTenant", tenant("initech"), [root]), decision("pack", "allow", ["platform-admin-tenants"]))
    a("platform admin deletes a tenant without MFA", "pack",
      areq(U("root"), "deleteTenant", tenant("acme"), [root], {"mfa": False}),
      decision("pack", "deny", ["mfa-required-for-admins"], ["mfa_missing"]))
    a("tenant admin may not create tenants", "pack",
      areq(U("admin"), "createTenant", tenant("acme"), [ta]), decision("pack", "deny"))
    a("owner deletes a record of their tenant", "pack",
      areq(U("boss"), "delete", R("r1"), [owner, record("r1", "acme", "pat")]),
      decision("pack", "allow", ["owner-delete-records"]))
    a("owner manages users as a tenant admin", "pack",
      areq(U("boss"), "manageUsers", tenant("acme"), [owner]), decision("pack", "allow", ["tenant-admin-manage"]))
    a("owner without MFA", "pack",
      areq(U("boss"), "delete", R("r1"), [owner, record("r1", "acme", "pat")], {"mfa": False}),
      decision("pack", "deny", ["mfa-required-for-admins"], ["mfa_missing"]))
    a("tenant admin of another tenant", "pack",
      areq(U("admin"), "viewConfig", tenant("globex"), [ta]),
      decision("pack", "deny", ["tenant-isolation-admin"], ["cross_tenant_denied"]))
    a("api key with records:export exports", "pack",
      areq(uref("ApiKey", "k1"), "export", R("r1"), [api_key("k1", "acme", ["records:export"]), record("r1", "acme", "pat")]),
      decision("pack", "allow", ["api-key-export"]))
    a("api key without a scope for the action", "pack",
      areq(uref("ApiKey", "k1"), "export", R("r1"), [api_key("k1", "acme", ["records:read"]), record("r1", "acme", "pat")]),
      decision("pack", "deny"))
    a("api key never administers", "pack",
      areq(uref("ApiKey", "k1"), "manageApiKeys", tenant("acme"), [api_key("k1", "acme", ["records:read"])]),
      decision("pack", "deny", ["api-keys-no-admin"]))
    a("api key of another tenant", "pack",
      areq(uref("ApiKey", "k1"), "view", R("r1"), [api_key("k1", "globex", ["records:read"]), record("r1", "acme", "pat")]),
      decision("pack", "deny", ["tenant-isolation-records"], ["cross_tenant_denied"]))
    a("staff read a non-clinical field", "pack",
      areq(U("nurse"), "readField", R("r1"), [nurse, record("r1", "acme", "pat")], {"mfa": True, "field": uref("Field", "/phone")}),
      decision("pack", "allow", ["staff-non-clinical-fields"]))
    a("staff may not read an unclassified field", "pack",
      areq(U("nurse"), "readField", R("r1"), [nurse, record("r1", "acme", "pat")], {"mfa": True, "field": uref("Field", "/ssn")}),
      decision("pack", "deny"))
    a("tenant given and agreeing with the resource", "pack",
      areq(U("nurse"), "view", R("r1"), [nurse, record("r1", "acme", "pat")], tenant_id="acme"),
      decision("pack", "allow", ["staff-records"]))
    a("tenant given for a resource of another tenant", "pack",
      areq(U("nurse"), "view", R("r1"), [nurse, record("r1", "globex", "pat")], tenant_id="acme"),
      error("policy.tenant_mismatch"))
    a("tenant given for a tenant resource of another tenant", "pack",
      areq(U("admin"), "viewConfig", tenant("globex"), [ta], tenant_id="acme"), error("policy.tenant_mismatch"))

    # Tenant layering: acme adds a permit, globex permits everything.
    a("acme's permit applies in acme", "layered",
      areq(U("nurse"), "export", R("r1"), [nurse, record("r1", "acme", "pat")]),
      decision("layered", "allow", ["acme/staff-export"]))
    a("without the tenant layer the same request is denied", "pack",
      areq(U("nurse"), "export", R("r1"), [nurse, record("r1", "acme", "pat")]), decision("pack", "deny"))
    a("globex staff view: globex's permit-all and the platform's permit", "layered",
      areq(U("gx-nurse"), "view", R("gx-r"), [gx_nurse]),
      decision("layered", "allow", ["globex/all", "staff-records"]))
    a("globex's permit-all applies in globex", "layered",
      areq(U("gx-nurse"), "export", R("gx-r"), [gx_nurse]), decision("layered", "allow", ["globex/all"]))
    a("globex's permit-all lets its patient delete in globex", "layered",
      areq(U("gx-pat"), "delete", R("gx-r")), decision("layered", "allow", ["globex/all"]))
    a("acme grants its patients nothing extra", "layered",
      areq(U("pat"), "delete", R("r1"), [user("pat", "acme", "patient"), record("r1", "acme", "pat")]),
      decision("layered", "deny"))
    a("globex's permit-all cannot lift tenant isolation", "layered",
      areq(U("nurse"), "export", R("gx-r"), [nurse]),
      decision("layered", "deny", ["tenant-isolation-records"], ["cross_tenant_denied"]))
    a("globex's permit-all cannot lift the MFA rule", "layered",
      areq(U("gx-admin"), "updateConfig", tenant("globex"), [gx_ta], {"mfa": False}),
      decision("layered", "deny", ["mfa-required-for-admins"], ["mfa_missing"]))
    a("globex tenant admin with MFA", "layered",
      areq(U("gx-admin"), "viewConfig", tenant("globex"), [gx_ta]),
      decision("layered", "allow", ["globex/all", "tenant-admin-manage"]))
    a("acme staff exporting a globex record, tenant globex given", "layered",
      areq(U("nurse"), "export", R("gx-r"), [nurse], tenant_id="globex"),
      decision("layered", "deny", ["tenant-isolation-records"], ["cross_tenant_denied"]))
    a("forcing acme's layer onto a globex record", "layered",
      areq(U("nurse"), "export", R("gx-r"), [nurse], tenant_id="acme"), error("policy.tenant_mismatch"))
    a("tenant administration decided in the resource tenant", "layered",
      areq(U("admin"), "manageUsers", tenant("acme"), [ta]), decision("layered", "allow", ["tenant-admin-manage"]))

    # Fail-closed: a permit is satisfied but a forbid cannot be evaluated.
    # (errors carry Cedar's message, so only the verdict is compared.)
    # Bad requests.
    base = {"principal": U("a"), "action": uref("Action", "view"), "resource": R("r"), "context": {"mfa": True}}

    def bad(name, code, **change):
        request = dict(base)
        for k, v in change.items():
            if v is None:
                request.pop(k)
            else:
                request[k] = v
        a(f"bad request: {name}", "pack", request, error(code))

    bad("principal of an unknown entity type", "policy.invalid_request", principal=uref("Robot", "a"))
    bad("resource of an unknown entity type", "policy.invalid_request", resource=uref("Chart", "r"))
    bad("unknown action", "policy.invalid_request", action=uref("Action", "fly"))
    bad("action of another type", "policy.invalid_request", action=uref("User", "view"))
    bad("principal type the action does not apply to", "policy.invalid_request", principal=uref("Record", "a"))
    bad("resource type the action does not apply to", "policy.invalid_request", resource=tenant("acme"))
    bad("context attribute of the wrong type", "policy.invalid_request", context={"mfa": "yes"})
    bad("context without a required attribute", "policy.invalid_request", context={})
    bad("context absent (the action needs mfa)", "policy.invalid_request", context=None)
    bad("context attribute the schema does not declare", "policy.invalid_request",
        context={"mfa": True, "ipAddress": "10.0.0.1"})
    bad("entity attribute of the wrong type", "policy.invalid_entities",
        entities=[{"uid": U("a"), "attrs": {"tenant": "acme"}, "parents": []}])
    bad("entity of an unknown type", "policy.invalid_entities",
        entities=[{"uid": uref("Alien", "a"), "attrs": {}, "parents": []}])
    bad("entity without a required attribute", "policy.invalid_entities",
        entities=[{"uid": U("a"), "attrs": {}, "parents": []}])
    bad("entity with an undeclared attribute", "policy.invalid_entities",
        entities=[{"uid": U("a"), "attrs": {"tenant": tenant("acme"), "shoeSize": 44}, "parents": []}])
    bad("entity whose parent type is not allowed", "policy.invalid_entities",
        entities=[{"uid": U("a"), "attrs": {"tenant": tenant("acme")}, "parents": [tenant("acme")]}])
    return out


def batch_cases():
    doc = user("doc", "acme", "provider")
    entities = [doc, user("p1", "acme", "patient", providers=["doc"]), user("p2", "acme", "patient")]
    entities += [record(f"r{i}", "acme", "p1" if i % 2 == 0 else "p2") for i in range(4)]
    entities.append(record("rx", "globex", "p1"))

    def item(action, resource, context=None):
        out = {"action": uref("Action", action), "resource": resource}
        if context is not None:
            out["context"] = context
        return out

    items = [
        (item("update", R("r0")), ("allow", ["provider-own-patients"], [])),
        (item("update", R("r1")), ("deny", [], [])),
        (item("view", R("r2")), ("allow", ["provider-own-patients"], [])),
        (item("export", R("r3")), ("deny", [], [])),
        (item("delete", R("r0")), ("deny", [], [])),
        (item("readField", R("r0"), {"mfa": True, "field": uref("Field", "/diagnosis")}),
         ("allow", ["provider-own-patients"], [])),
        (item("readField", R("r1"), {"mfa": True, "field": uref("Field", "/name")}), ("deny", [], [])),
        (item("manageUsers", tenant("acme")), ("deny", [], [])),
        (item("export", R("rx")), ("deny", ["tenant-isolation-records"], ["cross_tenant_denied"])),
    ]
    request = {"principal": U("doc"), "context": {"mfa": True}, "entities": entities, "items": [i for i, _ in items]}
    answers = [{"ok": decision("pack", e, p, f)["ok"]} for _, (e, p, f) in items]
    out = [case("authorizeBatch/one provider, many records and actions", "authorizeBatch", request,
                ok({"decisions": answers}), engine="pack")]
    same_tenant = dict(request, tenant="acme", items=[i for i, _ in items[:3]])
    out.append(case("authorizeBatch/tenant given for every item", "authorizeBatch", same_tenant,
                    ok({"decisions": answers[:3]}), engine="pack"))
    layered_items = [item("export", R("r0")), item("export", R("gx-r")), item("view", R("gx-r"))]
    nurse_batch = {"principal": U("nurse"), "context": {"mfa": True}, "entities": [user("nurse", "acme", "staff")]
                   + entities[1:], "items": layered_items}
    out.append(case("authorizeBatch/each item decided in its resource's tenant", "authorizeBatch", nurse_batch,
                    ok({"decisions": [
                        {"ok": decision("layered", "allow", ["acme/staff-export"])["ok"]},
                        {"ok": decision("layered", "deny", ["tenant-isolation-records"], ["cross_tenant_denied"])["ok"]},
                        {"ok": decision("layered", "deny", ["tenant-isolation-records"], ["cross_tenant_denied"])["ok"]},
                    ]}), engine="layered"))
    base_only = {"principal": U("gx-doc"), "context": {"mfa": False},
                 "items": [item("update", R("gx-r")), item("delete", R("gx-r"))]}
    out.append(case("authorizeBatch/base entities only", "authorizeBatch", base_only,
                    ok({"decisions": [{"ok": decision("pack", "allow", ["provider-own-patients"])["ok"]},
                                      {"ok": decision("pack", "deny")["ok"]}]}), engine="pack"))
    out.append(case("authorizeBatch/no items", "authorizeBatch", dict(request, items=[]), ok({"decisions": []}),
                    engine="pack"))
    out.append(case("authorizeBatch/principal of an unknown type fails the batch", "authorizeBatch",
                    dict(request, principal=uref("Robot", "doc")), error("policy.invalid_request"), engine="pack"))
    out.append(case("authorizeBatch/a bad shared entity fails the batch", "authorizeBatch",
                    dict(request, entities=entities + [{"uid": U("x"), "attrs": {"tenant": "acme"}, "parents": []}]),
                    error("policy.invalid_entities"), engine="pack"))
    return out


FIELDS = ["/name", "/phone", "/diagnosis", "/unclassified"]


def fields_cases():
    out = []
    pat = user("pat", "acme", "patient", providers=["doc"])
    rec = record("r1", "acme", "pat")

    def f(name, principal, entities, readable, flags=(), engine="pack", context=None, fields=FIELDS,
          resource="r1", **kw):
        request = {"principal": principal, "resource": R(resource), "fields": fields,
                   "context": {"mfa": True} if context is None else context, "entities": entities}
        request.update(kw)
        answer = {"readable": sorted(readable), "denied": sorted(set(fields) - set(readable)), "errors": [],
                  "auditFlags": sorted(flags), "bundleHash": HASH[engine]}
        out.append(case(f"readableFields/{name}", "readableFields", request, ok(answer), engine=engine))

    f("staff read non-clinical fields only", U("nurse"), [user("nurse", "acme", "staff"), rec, pat],
      ["/name", "/phone"])
    f("patient reads every field of their record", U("pat"), [rec, pat], FIELDS)
    f("another patient reads nothing", U("intruder"), [user("intruder", "acme", "patient"), rec, pat], [])
    f("provider of the patient reads every field", U("doc"), [user("doc", "acme", "provider"), rec, pat], FIELDS)
    f("another provider reads nothing", U("doc2"), [user("doc2", "acme", "provider"), rec, pat], [])
    f("api key with records:read", uref("ApiKey", "k1"), [api_key("k1", "acme", ["records:read"]), rec, pat], FIELDS)
    f("api key without records:read", uref("ApiKey", "k1"), [api_key("k1", "acme", ["records:write"]), rec, pat], [])
    f("tenant admin reads no record fields", U("admin"), [user("admin", "acme", "tenant_admin"), rec, pat], [])
    f("staff of another tenant", U("gx-nurse"), [user("gx-nurse", "globex", "staff"), rec, pat], [],
      ["cross_tenant_denied"])
    f("platform admin under break-glass", U("root"), [user("root", "platform", "platform_admin"), rec, pat], FIELDS,
      ["break_glass"], context={"mfa": True, "breakGlassReason": BREAK_GLASS})
    f("no fields asked", U("nurse"), [user("nurse", "acme", "staff"), rec, pat], [], fields=[])
    f("globex layer lets its staff read every field", U("gx-nurse"), [user("gx-nurse", "globex", "staff")], FIELDS,
      engine="layered", resource="gx-r")
    f("acme staff in the layered engine", U("nurse"), [user("nurse", "acme", "staff"), rec, pat], ["/name", "/phone"],
      engine="layered")
    f("tenant given", U("nurse"), [user("nurse", "acme", "staff"), rec, pat], ["/name", "/phone"], tenant="acme")

    def bad(name, request, code):
        out.append(case(f"readableFields/{name}", "readableFields", request, error(code), engine="pack"))

    base = {"principal": U("nurse"), "resource": R("r1"), "fields": FIELDS, "context": {"mfa": True},
            "entities": [user("nurse", "acme", "staff"), rec, pat]}
    bad("principal of an unknown type", dict(base, principal=uref("Robot", "nurse")), "policy.invalid_request")
    bad("context that is not an object", dict(base, context=[]), "policy.invalid_request")
    bad("context without mfa", dict(base, context={}), "policy.invalid_request")
    bad("tenant of another resource", dict(base, tenant="globex"), "policy.tenant_mismatch")
    bad("entity of an unknown type", dict(base, entities=[{"uid": uref("Alien", "a"), "attrs": {}, "parents": []}]),
        "policy.invalid_entities")
    return out


def fail_closed_cases():
    """A platform policy that cannot be evaluated for a request denies it, even when a
    permit holds (the error text is Cedar's, so only the verdict is compared)."""
    spec = copy.deepcopy(PACK)
    spec["platformPolicies"].append({
        "name": "extra.cedar",
        "text": '@id("needs-patient-tenant")\nforbid (principal, action == Action::"view", resource)\n'
                "when { resource.patient.tenant != principal.tenant };\n"})
    return spec, [
        case("authorize/an erroring forbid denies though a permit holds", "authorize",
             areq(U("nurse"), "view", R("r1"), [user("nurse", "acme", "staff"), record("r1", "acme", "ghost")]),
             includes({"decision": "deny", "policies": [], "auditFlags": [], "bundleHash": spec_hash(spec)}),
             engine="fail-closed"),
        case("authorize/the same forbid evaluates when the patient is known", "authorize",
             areq(U("nurse"), "view", R("r1"), [user("nurse", "acme", "staff"), record("r1", "acme", "pat"),
                                                user("pat", "acme", "patient")]),
             ok({"decision": "allow", "policies": ["staff-records"], "errors": [], "auditFlags": [],
                 "bundleHash": spec_hash(spec)}),
             engine="fail-closed"),
    ]


def T(t):
    return {"entity": tenant(t)}


def tenant_is(t):
    return {"compare": {"attr": "tenant", "op": "==", "value": T(t)}}


UNPLANNABLE = copy.deepcopy(PACK)
UNPLANNABLE["platformPolicies"].append({
    "name": "extra.cedar",
    "text": '@id("same-tenant-patient")\npermit (principal in Role::"staff", action == Action::"export", resource)\n'
            "when { resource.tenant == resource.patient.tenant };\n"})


def plan_cases():
    """Plans for list queries, stated by hand from the rules: each is the set of records
    `authorize` allows in the principal's tenant, as a condition over the record (the
    tenant first, then what the policies that can still apply ask, duplicates folded)."""
    out = []

    def p(name, principal, entities, action, expect, engine="pack", context=None, **kw):
        request = {"principal": principal, "action": uref("Action", action), "resourceType": "Record",
                   "context": {"mfa": True} if context is None else context, "entities": entities}
        request.update(kw)
        out.append(case(f"planResources/{name}", "planResources", request, expect, engine=engine))

    def plan(engine, decision, condition=None, policies=(), tenant_id="acme", flags=()):
        body = {"decision": decision}
        if condition is not None:
            body["condition"] = condition
        body.update({"policies": sorted(policies), "auditFlags": sorted(flags),
                     "bundleHash": HASH.get(engine) or spec_hash(UNPLANNABLE), "tenant": tenant_id})
        return ok(body)

    doc = user("doc", "acme", "provider")
    p("provider: the records of their patients", U("doc"), [doc], "view",
      plan("pack", "conditional", {"and": [tenant_is("acme"), {"has": {"attr": "patient.providers"}},
                                           {"contains": {"attr": "patient.providers", "value": {"entity": U("doc")}}}]},
           ["provider-own-patients", "tenant-isolation-records"]))
    p("provider may not delete", U("doc"), [doc], "delete", plan("pack", "deny"))
    p("patient: their own records", U("pat"), [user("pat", "acme", "patient")], "view",
      plan("pack", "conditional", {"and": [tenant_is("acme"),
                                           {"compare": {"attr": "patient", "op": "==", "value": {"entity": U("pat")}}}]},
           ["patient-own-records", "tenant-isolation-records"]))
    p("staff: every record of the tenant", U("nurse"), [user("nurse", "acme", "staff")], "view",
      plan("pack", "conditional", tenant_is("acme"), ["staff-records", "tenant-isolation-records"]))
    p("staff may not export", U("nurse"), [user("nurse", "acme", "staff")], "export", plan("pack", "deny"))
    p("owner deletes records of the tenant", U("boss"), [user("boss", "acme", "owner")], "delete",
      plan("pack", "conditional", tenant_is("acme"), ["owner-delete-records", "tenant-isolation-records"]))
    p("tenant admin lists no records", U("admin"), [user("admin", "acme", "tenant_admin")], "view", plan("pack", "deny"))
    p("api key with records:read", uref("ApiKey", "k1"), [api_key("k1", "acme", ["records:read"])], "view",
      plan("pack", "conditional", tenant_is("acme"), ["api-key-read", "tenant-isolation-records"]))
    p("api key without the scope", uref("ApiKey", "k1"), [api_key("k1", "acme", ["records:write"])], "view",
      plan("pack", "deny"))
    p("platform admin under break-glass, in the tenant named", U("root"), [user("root", "platform", "platform_admin")],
      "view", plan("pack", "conditional", tenant_is("acme"), ["platform-admin-break-glass"], flags=["break_glass"]),
      context={"mfa": True, "breakGlassReason": BREAK_GLASS}, tenant="acme")
    p("platform admin without a reason", U("root"), [user("root", "platform", "platform_admin")], "view",
      plan("pack", "deny"), tenant="acme")
    p("a tenant's own permit, in the layered engine", U("nurse"), [user("nurse", "acme", "staff")], "export",
      plan("layered", "conditional", tenant_is("acme"), ["acme/staff-export", "tenant-isolation-records"]),
      engine="layered")
    p("globex's permit-all stays inside globex", U("gx-nurse"), [user("gx-nurse", "globex", "staff")], "delete",
      plan("layered", "conditional", tenant_is("globex"), ["globex/all", "tenant-isolation-records"],
           tenant_id="globex"),
      engine="layered")

    def bad(name, code, engine="pack", **change):
        request = {"principal": U("nurse"), "action": uref("Action", "view"), "resourceType": "Record",
                   "context": {"mfa": True}, "entities": [user("nurse", "acme", "staff")]}
        request.update(change)
        out.append(case(f"planResources/{name}", "planResources", request, error(code), engine=engine))

    bad("a resource type the schema lacks", "policy.invalid_request", resourceType="Invoice")
    bad("an action that does not apply to records", "policy.invalid_request", action=uref("Action", "createTenant"))
    bad("a context without mfa", "policy.invalid_request", context={})
    bad("a principal without its entity or a tenant", "plan.tenant_required", entities=[])
    bad("an unknown field", "request.malformed", resource=R("r1"))
    bad("a policy comparing two attributes of the resource", "plan.unsupported", engine="unplannable",
        action=uref("Action", "export"))
    return out


SQL_MAPPING = {
    "id": "records.id",
    "attributes": {
        "tenant": "records.tenant_id",
        "patient": "records.patient_id",
        "status": "records.status",
        "urgent": "records.urgent",
        "patient.providers": {
            "has": "EXISTS (SELECT 1 FROM users u WHERE u.id = records.patient_id AND u.has_providers = 1)",
            "contains": "EXISTS (SELECT 1 FROM care_team c WHERE c.patient_id = records.patient_id AND c.provider_id = ?)",
        },
    },
    "parents": {"Clinic": "records.clinic_id"},
}


def sql_cases():
    """Plans as SQL `WHERE` fragments, by hand: columns from the mapping, every value a
    numbered parameter (`$n` for PostgreSQL, `?n` for SQLite), never in the text."""
    out = []

    def conditional(c):
        return {"decision": "conditional", "condition": c, "policies": [], "auditFlags": [], "bundleHash": HASH["pack"], "tenant": "acme"}

    def s(name, plan_, dialect, expect, mapping=SQL_MAPPING):
        out.append(case(f"planToSql/{name}", "planToSql", {"plan": plan_, "mapping": mapping, "dialect": dialect},
                        expect))

    provider = conditional({"and": [tenant_is("acme"), {"has": {"attr": "patient.providers"}},
                                    {"contains": {"attr": "patient.providers", "value": {"entity": U("doc")}}}]})
    has = "(EXISTS (SELECT 1 FROM users u WHERE u.id = records.patient_id AND u.has_providers = 1))"
    contains = "(EXISTS (SELECT 1 FROM care_team c WHERE c.patient_id = records.patient_id AND c.provider_id = {}))"
    s("provider plan, PostgreSQL", provider, "postgres",
      ok({"sql": f"((records.tenant_id = $1) AND {has} AND {contains.format('$2')})", "params": ["acme", "doc"]}))
    s("provider plan, SQLite", provider, "sqlite",
      ok({"sql": f"((records.tenant_id = ?1) AND {has} AND {contains.format('?2')})", "params": ["acme", "doc"]}))
    s("deny", {"decision": "deny", "policies": [], "bundleHash": HASH["pack"]}, "postgres",
      ok({"sql": "(1 = 0)", "params": []}))
    s("allow", {"decision": "allow", "policies": [], "bundleHash": HASH["pack"]}, "sqlite",
      ok({"sql": "(1 = 1)", "params": []}))
    hostile = "x'); DROP TABLE records; --%_\\ ü"
    s("a hostile value is a parameter", conditional(
        {"compare": {"attr": "patient", "op": "==", "value": {"entity": uref("User", hostile)}}}), "postgres",
      ok({"sql": "(records.patient_id = $1)", "params": [hostile]}))
    every = conditional({"or": [
        {"not": {"in": {"attr": "status", "values": ["closed", "archived"]}}},
        {"resourceIs": {"entities": [R("r1"), R("r2")]}},
        {"resourceIn": {"entity": uref("Clinic", "c1")}},
        {"and": [{"compare": {"attr": "urgent", "op": "==", "value": True}},
                 {"compare": {"attr": "status", "op": "!=", "value": "draft"}}]},
        {"const": False},
    ]})
    s("every node, PostgreSQL", every, "postgres", ok({
        "sql": "((NOT (records.status IN ($1, $2))) OR (records.id IN ($3, $4)) OR (records.clinic_id = $5)"
               " OR ((records.urgent = $6) AND (records.status <> $7)) OR (1 = 0))",
        "params": ["closed", "archived", "r1", "r2", "c1", True, "draft"]}))
    s("every node, SQLite (booleans as integers)", every, "sqlite", ok({
        "sql": "((NOT (records.status IN (?1, ?2))) OR (records.id IN (?3, ?4)) OR (records.clinic_id = ?5)"
               " OR ((records.urgent = ?6) AND (records.status <> ?7)) OR (1 = 0))",
        "params": ["closed", "archived", "r1", "r2", "c1", 1, "draft"]}))
    s("comparisons", conditional({"and": [
        {"compare": {"attr": "status", "op": op, "value": 3}} for op in ["<", "<=", ">", ">="]]}), "sqlite",
      ok({"sql": "((records.status < ?1) AND (records.status <= ?2) AND (records.status > ?3) AND (records.status >= ?4))",
          "params": [3, 3, 3, 3]}))
    s("an attribute the mapping lacks", provider, "postgres", error("plan.mapping_missing"),
      mapping={"attributes": {"tenant": "records.tenant_id"}})
    s("a contains fragment without its ?", provider, "postgres", error("plan.mapping_missing"),
      mapping=dict(SQL_MAPPING, attributes=dict(SQL_MAPPING["attributes"], **{
          "patient.providers": {"has": "TRUE", "contains": "EXISTS (SELECT 1)"}})))
    s("a contains fragment with two ?", provider, "postgres", error("plan.mapping_missing"),
      mapping=dict(SQL_MAPPING, attributes=dict(SQL_MAPPING["attributes"], **{
          "patient.providers": {"has": "TRUE", "contains": "? = ?"}})))
    s("resource parent without a parent column", conditional({"resourceIn": {"entity": uref("Ward", "w1")}}),
      "sqlite", error("plan.mapping_missing"))
    s("resource parent through a closure table", conditional({"resourceIn": {"entity": uref("Ward", "w1")}}),
      "postgres", ok({"sql": "(EXISTS (SELECT 1 FROM ward_closure w WHERE w.record_id = records.id AND w.ancestor_id = $1))",
                      "params": ["w1"]}),
      mapping=dict(SQL_MAPPING, parents={"Ward": "EXISTS (SELECT 1 FROM ward_closure w WHERE w.record_id = records.id"
                                                 " AND w.ancestor_id = ?)"}))
    s("an unknown dialect", provider, "mysql", error("request.malformed"))
    s("an unknown condition node", conditional({"like": {"attr": "status", "pattern": "a*"}}), "sqlite",
      error("request.malformed"))
    return out


def engine_suite():
    fail_spec, fail_cases = fail_closed_cases()
    cases = (build_cases() + validate_cases() + authorize_cases() + fail_cases + batch_cases() + fields_cases()
             + plan_cases() + sql_cases())
    fixtures = {"engines": {"pack": {"spec": PACK}, "layered": {"spec": LAYERED}, "fail-closed": {"spec": fail_spec},
                            "unplannable": {"spec": UNPLANNABLE}}}
    description = (
        "The engine beyond the pack table, with decisions stated by hand from the rules in "
        "DESIGN.md 1.2: tenant layering (a tenant's policies apply only in its tenant and never "
        "lift a platform forbid; a tenant policy naming another tenant is refused at build), "
        "batches, field-level reads with FieldClass, base entities, break-glass, fail-closed "
        "evaluation, and the codes of bad requests and of specs that must not build. Engine "
        "`pack` is the healthcare pack with tenants, classified fields and a few globex "
        "entities; `layered` adds acme's and globex's own policies. Bundle hashes are SHA-256 "
        "of each spec's RFC 8785 form. Plans (`planResources`) for list queries and their SQL "
        "(`planToSql`) are stated by hand from the same rules."
    )
    return "authz-engine", description, fixtures, cases


def suites():
    return [pack_suite(), engine_suite()]
