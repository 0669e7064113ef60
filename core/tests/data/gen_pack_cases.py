#!/usr/bin/env python3
"""Writes core/tests/pack_cases.json: the healthcare pack's expected decisions.

The expectations come from the rules as DESIGN.md §1.2 states them, written here
independently of the Cedar policies, so the table checks the policies rather than
restating them. Every combination of principal (6 roles + a tenant API key) x action
(record actions, a clinical and a non-clinical field read, tenant and platform admin
actions) x same/other tenant x MFA yes/no x own/other patient x break-glass yes/no.
Run: python3 core/tests/data/gen_pack_cases.py
"""
import itertools, json, os

ROLES = ["platform_admin", "tenant_admin", "owner", "provider", "staff", "patient", "api_key"]
RECORD = ["view", "create", "update", "delete", "export"]
FIELDS = {"readField:/diagnosis": "/diagnosis", "readField:/name": "/name"}
TENANT_ADMIN = ["viewConfig", "updateConfig", "manageUsers", "manageApiKeys"]
PLATFORM_ADMIN = ["createTenant", "deleteTenant"]
ACTIONS = RECORD + list(FIELDS) + TENANT_ADMIN + PLATFORM_ADMIN
PRINCIPAL_ID = {"platform_admin": "pa", "tenant_admin": "ta", "owner": "ow", "provider": "dr",
                "staff": "st", "patient": "pt", "api_key": "key"}

def user(uid, tenant, role, providers=None):
    attrs = {"tenant": {"type": "Tenant", "id": tenant}}
    if providers is not None:
        attrs["providers"] = [{"type": "User", "id": p} for p in providers]
    return {"uid": {"type": "User", "id": uid}, "attrs": attrs,
            "parents": [{"type": "Role", "id": role}]}

def expected(role, action, same, mfa, own, bg):
    is_record = action in RECORD or action in FIELDS
    field = FIELDS.get(action)
    pa = role == "platform_admin"
    forbids, permits = [], []
    if is_record and not (same or (pa and bg)):
        forbids.append("tenant-isolation-records")
    if action in TENANT_ADMIN and not (same or (pa and bg)):
        forbids.append("tenant-isolation-admin")
    if role in ("platform_admin", "tenant_admin", "owner") and not mfa:
        forbids.append("mfa-required-for-admins")
    if role == "api_key" and (action in TENANT_ADMIN or action in PLATFORM_ADMIN):
        forbids.append("api-keys-no-admin")
    if pa and action in PLATFORM_ADMIN:
        permits.append("platform-admin-tenants")
    if pa and (is_record or action in TENANT_ADMIN) and bg:
        permits.append("platform-admin-break-glass")
    if role in ("tenant_admin", "owner") and action in TENANT_ADMIN and same:
        permits.append("tenant-admin-manage")
    if role == "owner" and action == "delete" and same:
        permits.append("owner-delete-records")
    if role == "patient" and (action in ("view", "export") or field) and own:
        permits.append("patient-own-records")
    if role == "provider" and (action in ("view", "create", "update", "export") or field) and same and own:
        permits.append("provider-own-patients")
    if role == "staff" and action in ("view", "create", "update") and same:
        permits.append("staff-records")
    if role == "staff" and field == "/name" and same:
        permits.append("staff-non-clinical-fields")
    if role == "api_key" and (action == "view" or field) and same:
        permits.append("api-key-read")
    if role == "api_key" and action in ("create", "update") and same:
        permits.append("api-key-write")
    flags_of = {"tenant-isolation-records": "cross_tenant_denied", "tenant-isolation-admin": "cross_tenant_denied",
                "mfa-required-for-admins": "mfa_missing", "platform-admin-break-glass": "break_glass"}
    if forbids:
        decision, policies = "deny", sorted(forbids)
    elif permits:
        decision, policies = "allow", sorted(permits)
    else:
        decision, policies = "deny", []
    flags = sorted({flags_of[p] for p in policies if p in flags_of})
    return decision, policies, flags

def case(role, action, same, mfa, own, bg):
    pid = PRINCIPAL_ID[role]
    home = "platform" if role == "platform_admin" else "acme"
    other = "acme" if role == "platform_admin" else "globex"
    rtenant = home if same else other
    entities = []
    if role == "api_key":
        principal = {"type": "ApiKey", "id": pid}
        entities.append({"uid": principal, "attrs": {"tenant": {"type": "Tenant", "id": home},
                         "scopes": ["records:read", "records:write"]}, "parents": []})
    else:
        principal = {"type": "User", "id": pid}
        entities.append(user(pid, home, role))
    context = {"mfa": mfa}
    if bg:
        context["breakGlassReason"] = "incident 4711: patient unconscious in ER"
    field = FIELDS.get(action)
    cedar_action = "readField" if field else action
    if action in TENANT_ADMIN or action in PLATFORM_ADMIN:
        resource = {"type": "Tenant", "id": rtenant}
    else:
        resource = {"type": "Record", "id": "r1"}
        if own and role == "patient":
            patient = pid
        elif own:
            patient = "p1"
            entities.append(user("p1", rtenant, "patient", providers=[pid]))
        else:
            patient = "p2"
            entities.append(user("p2", rtenant, "patient", providers=["someone-else"]))
        entities.append({"uid": resource, "attrs": {"tenant": {"type": "Tenant", "id": rtenant},
                         "patient": {"type": "User", "id": patient}}, "parents": []})
        if field:
            context["field"] = {"type": "Field", "id": field}
    decision, policies, flags = expected(role, action, same, mfa, own, bg)
    name = f"{role} {action} {'same' if same else 'other'}-tenant {'mfa' if mfa else 'no-mfa'} {'own' if own else 'other'}-patient{' break-glass' if bg else ''}"
    return {"name": name,
            "request": {"principal": principal, "action": {"type": "Action", "id": cedar_action},
                        "resource": resource, "context": context, "entities": entities},
            "decision": decision, "policies": policies, "auditFlags": flags}

cases = [case(*c) for c in itertools.product(ROLES, ACTIONS, [True, False], [True, False], [True, False], [False, True])]
out = {
    "description": "Healthcare pack decision table (core/pack). Generated by core/tests/data/gen_pack_cases.py from the rules in DESIGN.md 1.2; every runtime replays it.",
    "baseEntities": [
        {"uid": {"type": "Tenant", "id": t}, "attrs": {}, "parents": []} for t in ["platform", "acme", "globex"]
    ] + [
        {"uid": {"type": "Field", "id": "/name"}, "attrs": {}, "parents": [{"type": "FieldClass", "id": "non_clinical"}]},
        {"uid": {"type": "Field", "id": "/diagnosis"}, "attrs": {}, "parents": [{"type": "FieldClass", "id": "clinical"}]},
    ],
    "cases": cases,
}
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pack_cases.json")
with open(path, "w") as f:
    # One case per line: small, and a changed expectation is a one-line diff.
    f.write("{\n")
    f.write(f' "description": {json.dumps(out["description"])},\n')
    f.write(f' "baseEntities": {json.dumps(out["baseEntities"])},\n')
    f.write(' "cases": [\n')
    f.write(",\n".join("  " + json.dumps(c, separators=(",", ":")) for c in cases))
    f.write("\n ]\n}\n")
print(len(cases), "cases;", sum(c["decision"] == "allow" for c in cases), "allow")
