"""TLP and PAP labels, what each marking-definition means, and the audience marking."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kizuna.access.tlp import (
    AUDIENCE_EXTENSION_ID,
    PAP_EXTENSION_ID,
    PAP_MARKINGS,
    TLP1_MARKINGS,
    TLP2_MARKINGS,
    TLP_EXTENSION_ID,
    WELL_KNOWN,
    Pap,
    Tlp,
    audience_marking,
    interpret_marking,
    tlp2_marking_definition,
)
from kizuna.stix.validate import validate_object

PAP_WHITE = "marking-definition--a3bea94c-b469-41dc-9cfe-d6e7daba7730"


def custom_marking(extensions: dict[str, object] | None = None, **extra: object) -> dict:
    marking: dict[str, object] = {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": f"marking-definition--{uuid.uuid4()}",
        "created": "2026-01-01T00:00:00.000Z",
        **extra,
    }
    if extensions is not None:
        marking["extensions"] = extensions
    return marking


# -- Tlp.parse -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("CLEAR", Tlp.CLEAR),
        ("clear", Tlp.CLEAR),
        ("TLP:CLEAR", Tlp.CLEAR),
        ("WHITE", Tlp.CLEAR),
        ("tlp:white", Tlp.CLEAR),
        ("green", Tlp.GREEN),
        (" TLP:GREEN ", Tlp.GREEN),
        ("Amber", Tlp.AMBER),
        ("amber+strict", Tlp.AMBER_STRICT),
        ("TLP:AMBER+STRICT", Tlp.AMBER_STRICT),
        ("amber-strict", Tlp.AMBER_STRICT),
        ("AMBER_STRICT", Tlp.AMBER_STRICT),
        ("red", Tlp.RED),
        ("tlp:red", Tlp.RED),
    ],
)
def test_tlp_parse(text: str, label: Tlp) -> None:
    assert Tlp.parse(text) is label


@pytest.mark.parametrize("text", ["", "purple", "TLP:", "amber strict", "TLP:BLACK", "1"])
def test_tlp_parse_refuses_unknown_labels(text: str) -> None:
    with pytest.raises(ValueError, match="unknown TLP label"):
        Tlp.parse(text)


@pytest.mark.parametrize("label", list(Tlp))
def test_tlp_label_round_trips_through_parse(label: Tlp) -> None:
    assert Tlp.parse(label.label) is label


def test_tlp_labels_are_ranked_from_clear_to_red() -> None:
    assert Tlp.CLEAR < Tlp.GREEN < Tlp.AMBER < Tlp.AMBER_STRICT < Tlp.RED
    assert max(Tlp.GREEN, Tlp.RED) is Tlp.RED
    assert Tlp.AMBER_STRICT.label == "TLP:AMBER+STRICT"
    assert Pap.CLEAR < Pap.GREEN < Pap.AMBER < Pap.RED


# -- interpret_marking -----------------------------------------------------------------------


@pytest.mark.parametrize(("label", "marking_id"), list(TLP2_MARKINGS.items()))
def test_tlp2_ids_mean_their_label(label: Tlp, marking_id: str) -> None:
    meaning = interpret_marking(tlp2_marking_definition(label))
    assert (meaning.tlp, meaning.pap, meaning.audience) == (label, None, None)
    # The id alone decides, whatever the body claims.
    meaning = interpret_marking({"type": "marking-definition", "id": marking_id})
    assert meaning.tlp is label


def test_the_tlp2_definitions_are_valid_stix() -> None:
    for label in Tlp:
        validate_object(tlp2_marking_definition(label))


@pytest.mark.parametrize(("label", "marking_id"), list(TLP1_MARKINGS.items()))
def test_tlp1_ids_mean_the_same_label_as_tlp2(label: Tlp, marking_id: str) -> None:
    tlp1 = {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": marking_id,
        "created": "2017-01-20T00:00:00.000Z",
        "definition_type": "tlp",
        "definition": {"tlp": "white" if label is Tlp.CLEAR else label.name.lower()},
    }
    meaning = interpret_marking(tlp1)
    assert (meaning.tlp, meaning.pap, meaning.audience) == (label, None, None)
    assert WELL_KNOWN[marking_id] == WELL_KNOWN[TLP2_MARKINGS[label]]


def test_the_tlp1_ids_are_the_ones_stix_2_1_publishes() -> None:
    # STIX 2.1 section 7.2.1.4.
    assert TLP1_MARKINGS[Tlp.CLEAR] == "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9"
    assert TLP1_MARKINGS[Tlp.GREEN] == "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"
    assert TLP1_MARKINGS[Tlp.AMBER] == "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"
    assert TLP1_MARKINGS[Tlp.RED] == "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed"


@pytest.mark.parametrize(
    ("value", "label"),
    [
        ("clear", Tlp.CLEAR),
        ("green", Tlp.GREEN),
        ("amber", Tlp.AMBER),
        ("amber+strict", Tlp.AMBER_STRICT),
        ("red", Tlp.RED),
    ],
)
def test_the_tlp2_extension_form_under_any_id(value: str, label: Tlp) -> None:
    marking = custom_marking(
        {TLP_EXTENSION_ID: {"extension_type": "property-extension", "tlp_2_0": value}}
    )
    validate_object(marking)
    meaning = interpret_marking(marking)
    assert (meaning.tlp, meaning.pap, meaning.audience) == (label, None, None)


def test_the_tlp1_definition_form_under_any_id() -> None:
    marking = custom_marking(definition_type="tlp", definition={"tlp": "amber"})
    assert interpret_marking(marking).tlp is Tlp.AMBER


def test_a_bad_tlp_value_in_the_extension_is_refused() -> None:
    marking = custom_marking(
        {TLP_EXTENSION_ID: {"extension_type": "property-extension", "tlp_2_0": "purple"}}
    )
    with pytest.raises(ValueError, match="unknown TLP label"):
        interpret_marking(marking)


@pytest.mark.parametrize(
    ("marking_id", "pap"), [*((m, p) for p, m in PAP_MARKINGS.items()), (PAP_WHITE, Pap.CLEAR)]
)
def test_pap_ids_mean_their_label(marking_id: str, pap: Pap) -> None:
    meaning = interpret_marking({"type": "marking-definition", "id": marking_id})
    assert (meaning.tlp, meaning.pap, meaning.audience) == (None, pap, None)


@pytest.mark.parametrize(
    ("value", "pap"),
    [
        ("clear", Pap.CLEAR),
        ("white", Pap.CLEAR),
        ("WHITE", Pap.CLEAR),
        ("green", Pap.GREEN),
        ("amber", Pap.AMBER),
        ("red", Pap.RED),
    ],
)
def test_the_pap_extension_form(value: str, pap: Pap) -> None:
    marking = custom_marking(
        {PAP_EXTENSION_ID: {"extension_type": "property-extension", "pap": value}}
    )
    meaning = interpret_marking(marking)
    assert (meaning.tlp, meaning.pap, meaning.audience) == (None, pap, None)


def test_tlp_and_pap_extensions_on_one_marking() -> None:
    marking = custom_marking(
        {
            TLP_EXTENSION_ID: {"extension_type": "property-extension", "tlp_2_0": "amber"},
            PAP_EXTENSION_ID: {"extension_type": "property-extension", "pap": "green"},
        }
    )
    meaning = interpret_marking(marking)
    assert (meaning.tlp, meaning.pap) == (Tlp.AMBER, Pap.GREEN)


def test_other_markings_mean_nothing_for_access() -> None:
    statement = custom_marking(definition_type="statement", definition={"statement": "(c) X"})
    meaning = interpret_marking(statement)
    assert (meaning.tlp, meaning.pap, meaning.audience) == (None, None, None)
    other_extension = custom_marking(
        {
            "extension-definition--3a8b4cc1-0fd5-4a5c-b3a1-2b8e3c6e0f11": {
                "extension_type": "property-extension",
                "tlp_2_0": "red",
            }
        }
    )
    assert interpret_marking(other_extension).tlp is None


# -- the audience marking --------------------------------------------------------------------

IDENTITIES = [f"identity--{uuid.uuid4()}" for _ in range(4)]


def test_the_audience_extension_means_its_audience() -> None:
    marking = audience_marking(IDENTITIES[:2])
    validate_object(marking)
    meaning = interpret_marking(marking)
    assert meaning.audience == frozenset(IDENTITIES[:2])
    assert meaning.tlp is None
    assert marking["object_marking_refs"] == [TLP2_MARKINGS[Tlp.GREEN]]


@pytest.mark.parametrize(
    "audience", [None, "identity--x", [1, 2], ["identity--a", None], {"a": "b"}]
)
def test_a_bad_audience_is_refused(audience: object) -> None:
    body: dict[str, object] = {"extension_type": "property-extension"}
    if audience is not None:
        body["audience"] = audience
    marking = custom_marking({AUDIENCE_EXTENSION_ID: body})
    with pytest.raises(ValueError, match="audience"):
        interpret_marking(marking)


def test_an_empty_audience_is_an_empty_set() -> None:
    marking = custom_marking(
        {AUDIENCE_EXTENSION_ID: {"extension_type": "property-extension", "audience": []}}
    )
    assert interpret_marking(marking).audience == frozenset()


@given(st.permutations(IDENTITIES), st.lists(st.sampled_from(IDENTITIES), max_size=4))
def test_the_audience_marking_depends_only_on_the_set(order: list[str], repeats: list[str]) -> None:
    marking = audience_marking([*order, *repeats])
    assert marking == audience_marking(IDENTITIES)
    assert marking["extensions"][AUDIENCE_EXTENSION_ID]["audience"] == sorted(IDENTITIES)


def test_different_audiences_have_different_ids() -> None:
    ids = {audience_marking(IDENTITIES[:n])["id"] for n in range(len(IDENTITIES) + 1)} | {
        audience_marking(IDENTITIES[1:])["id"]
    }
    assert len(ids) == len(IDENTITIES) + 2


def test_the_audience_marking_id_is_a_stable_uuid5() -> None:
    marking_id = str(audience_marking(["identity--b", "identity--a"])["id"])
    assert marking_id == str(audience_marking(("identity--a", "identity--b"))["id"])
    parsed = uuid.UUID(marking_id.removeprefix("marking-definition--"))
    assert parsed.version == 5
    # Same inputs, same id, across processes: derived from a fixed namespace.
    namespace = uuid.UUID("3097222f-8817-4ef9-b3e8-c494b7eb0acd")
    assert parsed == uuid.uuid5(namespace, "identity--a,identity--b")
