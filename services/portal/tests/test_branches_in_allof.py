"""``oneOf`` groups reached through ``allOf`` parts (21-686C's dependents): asked per branch,
like an object's own ``oneOf``, when the group has a clean discriminator and no other group
names the same properties; merged otherwise."""

from __future__ import annotations

from typing import Any

from tellonce_portal.forms.model import Condition, Field
from tellonce_portal.forms.parse import parse_fields
from tellonce_portal.forms.render import error_summary
from tellonce_portal.forms.schema import FormDefinition
from tellonce_portal.forms.validate import on_fields, validate

from .test_forms import DATA, load

CARD_OR_BANK = [
    {"properties": {"kind": {"const": "card"},
                    "number": {"type": "string", "pattern": "^[0-9]{16}$"}},
     "required": ["number"]},
    {"properties": {"kind": {"const": "bank"},
                    "number": {"type": "string", "pattern": "^[0-9]{9}$"}},
     "required": ["number"]},
]  # fmt: skip
MONTHLY_OR_ONCE = [
    {"properties": {"plan": {"const": "monthly"}, "day": {"type": "integer"}}, "required": ["day"]},
    {"properties": {"plan": {"const": "once"}}},
]  # fmt: skip


def payment_schema(payment: dict[str, Any], defs: dict[str, Any] | None = None) -> dict[str, Any]:
    """A form with one object, ``/payment``: a holder's name and whatever ``payment`` adds."""
    own = {"holder": {"type": "string"}, **(payment.pop("properties", None) or {})}
    return {
        "type": "object",
        "$defs": defs or {},
        "properties": {"payment": {"type": "object", "properties": own, **payment}},
    }


def questions(schema: dict[str, Any], ui: Any = None) -> list[Field]:
    group = FormDefinition(schema, ui).field_for("/payment", {})
    assert group is not None
    return group.children


def asked(fields: list[Field]) -> list[tuple[str, str, bool, Condition | None, str]]:
    return [(f.name, f.kind, f.required, f.condition, f.hint) for f in fields]


def variants(fields: list[Field]) -> list[str]:
    return [f.name for top in fields for f in top.walk() if f.variant]


def test_a_oneof_in_an_allof_part_is_asked_like_the_objects_own() -> None:
    through_allof = questions(payment_schema({"allOf": [{"oneOf": CARD_OR_BANK}]}))
    own = questions(payment_schema({"oneOf": CARD_OR_BANK}))
    assert asked(through_allof) == asked(own)
    by_name = {f.name: f for f in through_allof}
    assert [o.value for o in by_name["/payment/kind"].options] == ["card", "bank"]
    card = by_name["/payment/number~v0"]
    assert (card.required, card.condition) == (True, Condition("/payment/kind", ("card",)))
    assert card.hint == "If kind is card"
    assert by_name["/payment/number~v1"].condition == Condition("/payment/kind", ("bank",))
    assert by_name["/payment/holder"].condition is None, "asked once, whatever the kind"
    posted = {"/payment/kind": ["bank"], "/payment/number~v0": ["4111111111111111"],
              "/payment/number~v1": ["123456789"]}  # fmt: skip
    parsed = parse_fields(through_allof, posted, {})
    assert parsed.answers == {"payment": {"kind": "bank", "number": "123456789"}}


def test_a_group_behind_a_ref_and_a_nested_allof_is_reached() -> None:
    schema = payment_schema(
        {"allOf": [{"$ref": "#/$defs/byKind"}]},
        {"byKind": {"allOf": [{"type": "object", "oneOf": CARD_OR_BANK}]}},
    )
    assert variants(questions(schema)) == ["/payment/number~v0", "/payment/number~v1"]


def test_a_property_an_allof_part_defines_is_asked_per_branch_that_requires_it() -> None:
    schema = payment_schema({"allOf": [
        {"properties": {"number": {"type": "string", "maxLength": 20}}},
        {"oneOf": [{"properties": {"kind": {"const": "card"}}, "required": ["number"]},
                   {"properties": {"kind": {"const": "bank"}}}]},
    ]})  # fmt: skip
    number = [f for f in questions(schema) if f.pointer == "/payment/number"]
    assert [(f.name, f.required, f.max_length) for f in number] == [
        ("/payment/number~v0", True, 20), ("/payment/number~v1", False, 20)
    ]  # fmt: skip


def test_two_groups_each_keyed_by_its_own_property_are_both_split() -> None:
    schema = payment_schema({
        "properties": {"day": {"type": "integer"}},
        "allOf": [{"oneOf": MONTHLY_OR_ONCE}, {"oneOf": CARD_OR_BANK}],
    })  # fmt: skip
    order = [f.name for f in questions(schema)]
    assert variants(questions(schema)) == [
        "/payment/day~v0", "/payment/day~v1", "/payment/number~v0", "/payment/number~v1"
    ]  # fmt: skip
    assert order.index("/payment/plan") == order.index("/payment/day~v0") - 1
    assert order.index("/payment/kind") == order.index("/payment/number~v0") - 1, (
        "each discriminator just before the first question it reveals"
    )
    day = {f.name: f for f in questions(schema)}["/payment/day~v0"]
    assert day.condition == Condition("/payment/plan", ("monthly",))


def test_groups_that_name_the_same_property_keep_the_merged_questions() -> None:
    by_plan = [
        {"properties": {"plan": {"const": "monthly"}, "number": {"maxLength": 5}}},
        {"properties": {"plan": {"const": "once"}}},
    ]
    both_in_allof = payment_schema({"allOf": [{"oneOf": CARD_OR_BANK}, {"oneOf": by_plan}]})
    assert variants(questions(both_in_allof)) == []
    own_and_allof = payment_schema({"oneOf": CARD_OR_BANK, "allOf": [{"oneOf": by_plan}]})
    assert variants(questions(own_and_allof)) == [], "which discriminator would reveal it?"
    names = [f.name for f in questions(both_in_allof)]
    assert names.count("/payment/number") == 1
    requiring = [
        {"properties": {"plan": {"const": "monthly"}}, "required": ["number"]},
        {"properties": {"plan": {"const": "once"}}},
    ]
    required_by_both = payment_schema({"allOf": [{"oneOf": CARD_OR_BANK}, {"oneOf": requiring}]})
    assert variants(questions(required_by_both)) == [], "naming it as required counts too"


def test_a_group_without_a_clean_discriminator_is_merged_and_the_others_still_split() -> None:
    open_kind = [{"properties": {"kind": {"type": "string"}, "number": {"type": "string"}}},
                 *CARD_OR_BANK[:1]]  # fmt: skip
    schema = payment_schema({"allOf": [{"oneOf": open_kind}, {"oneOf": MONTHLY_OR_ONCE}]})
    fields = questions(schema)
    assert variants(fields) == ["/payment/day~v0"], "a day only when monthly"
    assert [f.name for f in fields if f.pointer == "/payment/number"] == ["/payment/number"]


def test_a_discriminator_the_ui_document_omits_keeps_its_groups_questions_merged() -> None:
    schema = payment_schema({"allOf": [{"oneOf": MONTHLY_OR_ONCE}, {"oneOf": CARD_OR_BANK}]})
    fields = questions(schema, {"omit": ["/payment/kind"]})
    assert variants(fields) == ["/payment/day~v0"]
    assert [f.name for f in fields if f.pointer == "/payment/number"] == ["/payment/number"]


# -- the real 21-686C ------------------------------------------------------------------------

DEPENDENT = "/dependents/0"


def dependent_questions() -> tuple[FormDefinition, list[Field]]:
    defn = FormDefinition(load(DATA / "21-686C-schema.json"))
    dependents = defn.field_for("/dependents", {"dependents": [{}]})
    assert dependents is not None
    return defn, [dependents]


def test_686c_dependents_ask_the_marriage_date_and_the_no_ssn_reason_per_answer() -> None:
    _, fields = dependent_questions()
    (item,) = fields[0].children
    by_name = {f.name: f for f in item.children}
    married = by_name[f"{DEPENDENT}/marriedDate~v0"]
    assert married.required
    assert married.condition == Condition(f"{DEPENDENT}/previouslyMarried", (True,))
    assert married.hint == "If previously married is Yes"
    reason = by_name[f"{DEPENDENT}/childHasNoSsnReason~v0"]
    assert reason.required
    assert reason.condition == Condition(f"{DEPENDENT}/childHasNoSsn", (True,))
    order = [f.name for f in item.children]
    assert order.index(f"{DEPENDENT}/childHasNoSsn") < order.index(reason.name), (
        "the yes/no question comes before the reason it reveals"
    )
    assert f"{DEPENDENT}/marriedDate" not in by_name, "no merged question left"
    assert by_name[f"{DEPENDENT}/childAddress"].kind == "group"


def test_686c_a_previously_married_child_is_asked_the_date_on_its_question() -> None:
    defn, fields = dependent_questions()
    posted = {f"{DEPENDENT}/previouslyMarried": ["true"],
              f"{DEPENDENT}/marriedDate~v1": ["2001-02-03"],
              f"{DEPENDENT}/childHasNoSsn": ["false"],
              f"{DEPENDENT}/childHasNoSsnReason~v0": ["NONRESIDENTALIEN"]}  # fmt: skip
    parsed = parse_fields(fields, posted, {"dependents": [{}]})
    assert parsed.answers["dependents"] == [{"previouslyMarried": True, "childHasNoSsn": False}], (
        "the answers to the questions of the other answer are dropped"
    )
    found = validate(defn.schema, parsed.answers, defn.fields(parsed.answers))
    errors = on_fields([e for e in found if e.pointer.startswith(DEPENDENT)], fields)
    assert [(e.pointer, e.message) for e in errors] == [
        (f"{DEPENDENT}/marriedDate", "Enter married date")
    ]
    assert error_summary(errors, fields, parsed.answers) == [
        ("#f-dependents-0-marriedDate--0", "Enter married date")
    ], "linked to the question the answers chose"
