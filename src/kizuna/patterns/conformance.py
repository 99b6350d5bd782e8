"""Conformance adapter: ``python -m kizuna.patterns.conformance``.

Reads JSON lines on stdin, each ``{"id": str, "pattern": str, "stix_version": "2.1" | "2.0",
"observed": [STIX objects]}``, and writes one JSON line per input line:
``{"id": ..., "result": "match" | "nomatch" | "error"}``. ``error`` covers an invalid pattern,
invalid input and anything that cannot be evaluated; a line that is not JSON (or has no usable
``id``) is answered with ``"id": null``. Blank lines are skipped. The process never stops early.

STIX 2.0 patterns write ``START``/``STOP`` timestamps as plain strings (``START '2016-..Z'``);
when a 2.0 pattern does not parse, it is retried with those strings turned into ``t'..'``.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable
from typing import Any, TextIO, TypeAlias

from kizuna.patterns.evaluate import CompiledPattern, compile_pattern
from kizuna.patterns.observations import observations_from_stix
from kizuna.patterns.parser import PatternError

__all__ = ["evaluate_line", "main"]

Cache: TypeAlias = dict[tuple[str, str], CompiledPattern]

_STIX20_START_STOP = re.compile(r"\b(START|STOP)(\s+)'")


def _compile(
    text: str, version: str, cache: dict[tuple[str, str], CompiledPattern]
) -> CompiledPattern:
    key = (text, version)
    compiled = cache.get(key)
    if compiled is None:
        try:
            compiled = compile_pattern(text)
        except PatternError:
            if version != "2.0":
                raise
            compiled = compile_pattern(_STIX20_START_STOP.sub(r"\1\2t'", text))
        if len(cache) > 1024:
            cache.clear()
        cache[key] = compiled
    return compiled


def evaluate_line(
    line: str, cache: dict[tuple[str, str], CompiledPattern] | None = None
) -> dict[str, Any]:
    """The answer for one input line (never raises)."""
    cache = {} if cache is None else cache
    ident: Any = None
    try:
        request = json.loads(line)
        if not isinstance(request, dict):
            return {"id": None, "result": "error"}
        raw_id = request.get("id")
        ident = raw_id if isinstance(raw_id, str | int) and not isinstance(raw_id, bool) else None
        pattern = request.get("pattern")
        version = request.get("stix_version", "2.1")
        observed = request.get("observed")
        if (
            not isinstance(pattern, str)
            or version not in ("2.0", "2.1")
            or not isinstance(observed, list)
        ):
            return {"id": ident, "result": "error"}
        compiled = _compile(pattern, version, cache)
        observations = observations_from_stix(observed)
        result = "match" if compiled.matches(observations) else "nomatch"
    except Exception:
        return {"id": ident, "result": "error"}
    return {"id": ident, "result": result}


def run(lines: Iterable[str], out: TextIO) -> None:
    cache: Cache = {}
    for line in lines:
        if not line.strip():
            continue
        out.write(json.dumps(evaluate_line(line, cache)) + "\n")
        out.flush()


def main() -> None:
    run(sys.stdin, sys.stdout)


if __name__ == "__main__":
    main()
