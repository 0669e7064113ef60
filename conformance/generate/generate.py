#!/usr/bin/env python3
"""Writes conformance/cases/*.json, the cases every Phylax runtime replays.

The expected values do not come from Phylax: the authorization table comes from the
rules (core/tests/pack_cases.json, made by core/tests/data/gen_pack_cases.py), the other
decisions are stated by hand from the rules, and every byte (ciphertexts, wrapped keys,
blind indexes, bundle hashes and signatures, audit hashes, API keys, JWTs, webhook
signatures) is computed by the Python reference in reference.py from fixed keys, nonces
and times. The output is deterministic: running this twice writes identical files.

Run: python3 conformance/generate/generate.py   (needs `pip install cryptography`)
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import cases_audit  # noqa: E402
import cases_authz  # noqa: E402
import cases_bad_input  # noqa: E402
import cases_bundles  # noqa: E402
import cases_crypto  # noqa: E402
import cases_hostile  # noqa: E402
import cases_identity  # noqa: E402
from common import CASES_DIR, write_suite  # noqa: E402

MODULES = [cases_audit, cases_authz, cases_bad_input, cases_bundles, cases_crypto, cases_hostile, cases_identity]


def main() -> None:
    for module in MODULES:
        for suite, description, fixtures, cases in module.suites():
            path = write_suite(suite, description, fixtures, cases)
            print(f"{os.path.relpath(path, os.path.dirname(CASES_DIR))}: {len(cases)} cases")


if __name__ == "__main__":
    main()
