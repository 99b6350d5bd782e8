"""Observations: what a STIX pattern is evaluated against.

An :class:`Observation` is one observed-data SDO reduced to what patterning needs: its time
window, how many times it was seen, and the cyber-observable objects (SCOs) it covers, keyed so
that ``*_ref`` / ``*_refs`` properties can be followed (the SCO's ``id`` for STIX 2.1
``object_refs``; the local key ``"0"``, ``"1"``, ... for the deprecated ``objects`` dict).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kizuna.errors import InvalidInput
from kizuna.stix.timestamps import parse_timestamp

__all__ = ["Observation", "observation_from_scos", "observations_from_stix"]


@dataclass(frozen=True, slots=True)
class Observation:
    """One observation: a time window, a count, and the SCOs seen in it.

    ``objects`` maps a key to an SCO dict; ``roots`` lists the keys a comparison may start
    from (all of them). ``source_id`` is the observed-data id, used in explanations.
    """

    first_observed_us: int
    last_observed_us: int
    number_observed: int
    objects: Mapping[str, Mapping[str, Any]]
    roots: tuple[str, ...]
    source_id: str | None = None


def observation_from_scos(
    scos: Sequence[Mapping[str, Any]],
    *,
    first_observed_us: int = 0,
    last_observed_us: int = 0,
    number_observed: int = 1,
) -> Observation:
    """An observation holding ``scos``, keyed by their ``id`` (or position when they have none)."""
    if number_observed < 1:
        raise InvalidInput(f"number_observed must be >= 1, not {number_observed}")
    if first_observed_us > last_observed_us:
        raise InvalidInput("first_observed must not be after last_observed")
    objects: dict[str, Mapping[str, Any]] = {}
    for index, sco in enumerate(scos):
        if not isinstance(sco, Mapping):
            raise InvalidInput(f"an SCO must be a JSON object, not {type(sco).__name__}")
        key = sco.get("id")
        objects[key if isinstance(key, str) else str(index)] = sco
    return Observation(
        first_observed_us=first_observed_us,
        last_observed_us=last_observed_us,
        number_observed=number_observed,
        objects=objects,
        roots=tuple(objects),
    )


def _is_sco(obj: Mapping[str, Any]) -> bool:
    # SDOs, SROs and meta objects all carry "created"; SCOs never do.
    kind = obj.get("type")
    return isinstance(kind, str) and kind != "observed-data" and "created" not in obj


def _ref_targets(value: Any, name: str) -> list[str]:
    if name.endswith("_ref") and isinstance(value, str):
        return [value]
    if name.endswith("_refs") and isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


def _referenced_keys(sco: Mapping[str, Any]) -> list[str]:
    """Keys that ``sco`` refers to through ``*_ref``/``*_refs``, also inside extensions."""
    found: list[str] = []
    stack: list[Mapping[str, Any]] = [sco]
    while stack:
        current = stack.pop()
        for name, value in current.items():
            if isinstance(name, str) and name.endswith(("_ref", "_refs")):
                found.extend(_ref_targets(value, name))
            elif isinstance(value, Mapping):
                stack.append(value)
            elif isinstance(value, list):
                stack.extend(v for v in value if isinstance(v, Mapping))
    return found


def _window(sdo: Mapping[str, Any]) -> tuple[int, int, int]:
    try:
        first = parse_timestamp(sdo["first_observed"])
        last = parse_timestamp(sdo["last_observed"])
        count = sdo["number_observed"]
    except KeyError as exc:
        raise InvalidInput(f"observed-data without {exc.args[0]}") from None
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise InvalidInput(f"observed-data number_observed must be an integer >= 1: {count!r}")
    if first > last:
        raise InvalidInput("observed-data first_observed is after last_observed")
    return first, last, count


def observations_from_stix(objects: Iterable[Mapping[str, Any]]) -> list[Observation]:
    """One :class:`Observation` per observed-data SDO in ``objects``, in input order.

    * STIX 2.1 ``object_refs`` are resolved against the SCOs in ``objects``; SCOs those SCOs
      reference (``src_ref``, ``to_refs``, ...) are pulled in too, transitively. References to
      SCOs that are not in ``objects`` are skipped (the observation lacks them).
    * The deprecated / STIX 2.0 ``objects`` dict is used as is (keys are the local keys);
      it is used only when ``object_refs`` is absent.
    * SCOs referenced by no observed-data each become an observation of their own, after the
      observed-data ones, with ``number_observed=1`` and first/last observed ``0`` (the epoch):
      a bare SCO carries no time. Its only root is the SCO itself; the SCOs it references are
      included so that paths can follow ``*_ref`` properties. ``source_id`` is the SCO's id.

    Raises :class:`~kizuna.errors.InvalidInput` for a malformed observed-data SDO (missing or
    invalid ``first_observed``/``last_observed``/``number_observed``, neither ``object_refs``
    nor ``objects``) or a non-object entry.
    """
    items = list(objects)
    scos: dict[str, Mapping[str, Any]] = {}
    for item in items:
        if not isinstance(item, Mapping):
            raise InvalidInput(f"a STIX object must be a JSON object, not {type(item).__name__}")
        if _is_sco(item) and isinstance(item.get("id"), str):
            scos[item["id"]] = item
    used: set[str] = set()
    result: list[Observation] = []
    for item in items:
        if item.get("type") != "observed-data":
            continue
        first, last, count = _window(item)
        refs = item.get("object_refs")
        members: dict[str, Mapping[str, Any]] = {}
        if refs is not None:
            if not isinstance(refs, list) or not all(isinstance(r, str) for r in refs):
                raise InvalidInput("observed-data object_refs must be a list of ids")
            pending = list(refs)
            while pending:
                key = pending.pop()
                if key in members or key not in scos:
                    continue
                members[key] = scos[key]
                pending.extend(_referenced_keys(scos[key]))
            used.update(members)
        else:
            embedded = item.get("objects")
            if not isinstance(embedded, Mapping):
                raise InvalidInput("observed-data needs object_refs or an objects dictionary")
            for key, sco in embedded.items():
                if not isinstance(sco, Mapping):
                    raise InvalidInput(f"observed-data objects[{key!r}] is not a JSON object")
                members[str(key)] = sco
        source = item.get("id")
        result.append(
            Observation(
                first_observed_us=first,
                last_observed_us=last,
                number_observed=count,
                objects=members,
                roots=tuple(members),
                source_id=source if isinstance(source, str) else None,
            )
        )
    for key in scos:
        if key in used:
            continue
        closure: dict[str, Mapping[str, Any]] = {}
        pending = [key]
        while pending:
            current = pending.pop()
            if current in closure or current not in scos:
                continue
            closure[current] = scos[current]
            pending.extend(_referenced_keys(scos[current]))
        result.append(
            Observation(
                first_observed_us=0,
                last_observed_us=0,
                number_observed=1,
                objects=closure,
                roots=(key,),
                source_id=key,
            )
        )
    return result
