"""RFC 8785 (JCS) canonical JSON, for the values the conformance cases hash and sign.

Written from the RFC, not from Phylax: object members sorted by the UTF-16 code units of
their names, no whitespace, strings in the ECMAScript `JSON.stringify` form (only `"`,
`\\` and control characters escaped; `\\b \\t \\n \\f \\r` short, others `\\u00xx`), and
every other character written as its UTF-8 bytes. Numbers: integers only (every number
in the cases is an integer below 2^53, whose ECMAScript form is its decimal digits), so
a float is refused rather than guessed at.
"""

_SHORT = {0x08: "\\b", 0x09: "\\t", 0x0A: "\\n", 0x0C: "\\f", 0x0D: "\\r", 0x22: '\\"', 0x5C: "\\\\"}


def _string(text: str) -> str:
    out = ['"']
    for ch in text:
        code = ord(ch)
        if code in _SHORT:
            out.append(_SHORT[code])
        elif code < 0x20:
            out.append("\\u%04x" % code)
        elif 0xD800 <= code <= 0xDFFF:
            raise ValueError("lone surrogate in a string: not valid I-JSON")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _utf16_key(name: str) -> list:
    return list(name.encode("utf-16-be"))


def _serialize(value, out: list) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        if abs(value) > 2**53 - 1:
            raise ValueError(f"integer {value} is outside the exact range of I-JSON")
        out.append(str(value))
    elif isinstance(value, float):
        raise ValueError("floats are not used in the conformance cases")
    elif isinstance(value, str):
        out.append(_string(value))
    elif isinstance(value, (list, tuple)):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _serialize(item, out)
        out.append("]")
    elif isinstance(value, dict):
        out.append("{")
        for i, name in enumerate(sorted(value, key=_utf16_key)):
            if not isinstance(name, str):
                raise ValueError("object member names are strings")
            if i:
                out.append(",")
            out.append(_string(name))
            out.append(":")
            _serialize(value[name], out)
        out.append("}")
    else:
        raise TypeError(f"cannot canonicalize {type(value).__name__}")


def canonicalize(value) -> bytes:
    """The RFC 8785 bytes of `value`."""
    out: list = []
    _serialize(value, out)
    return "".join(out).encode("utf-8")
