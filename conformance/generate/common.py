"""Shared pieces of the case generator: paths, the file writer, case builders."""

import json
import os

FORMAT = "phylax.conformance.v1"

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
CASES_DIR = os.path.join(REPO, "conformance", "cases")

# The one "now" of the cases (2023-11-14T22:13:20Z); everything time-dependent is relative.
T0 = 1_700_000_000


def read(*parts: str) -> str:
    with open(os.path.join(REPO, *parts), encoding="utf-8") as f:
        return f.read()


def read_json(*parts: str):
    return json.loads(read(*parts))


def case(name, op, request, expect, **context):
    """One case; `context` holds engine / keyring / auditKey / nonces as needed."""
    out = {"name": name, "op": op}
    for key in ("engine", "keyring", "auditKey"):
        if key in context:
            out[key] = context.pop(key)
    nonces = context.pop("nonces", None)
    if nonces:
        out["nonces"] = [n.hex() if isinstance(n, bytes) else n for n in nonces]
    if context:
        raise ValueError(f"unknown case context {sorted(context)}")
    out["request"] = request
    out["expect"] = expect
    return out


def ok(value):
    return {"ok": value}


def includes(value):
    return {"okIncludes": value}


def error(code):
    return {"error": code}


def _dump(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def write_suite(suite: str, description: str, fixtures: dict, cases: list) -> str:
    """Writes `cases/<suite>.json`: the header and fixtures indented, one case per line
    (a changed expectation is a one-line diff). Returns the path."""
    names = [c["name"] for c in cases]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"{suite}: case names used twice: {dupes}")
    lines = ["{"]
    lines.append(f' "format": {_dump(FORMAT)},')
    lines.append(f' "suite": {_dump(suite)},')
    lines.append(f' "description": {_dump(description)},')
    fixture_text = json.dumps(fixtures, ensure_ascii=False, indent=1)
    lines.append(' "fixtures": ' + fixture_text.replace("\n", "\n ") + ",")
    lines.append(' "cases": [')
    lines.append(",\n".join("  " + _dump(c) for c in cases))
    lines.append(" ]")
    lines.append("}")
    os.makedirs(CASES_DIR, exist_ok=True)
    path = os.path.join(CASES_DIR, f"{suite}.json")
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(lines) + "\n")
    return path
