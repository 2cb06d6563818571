"""Which branch of a failed oneOf/anyOf the answers chose (tellonce_shared.schema_branches)."""

from __future__ import annotations

from typing import Any

from tellonce_shared.schema_branches import (
    Discriminator,
    chosen_branch,
    discriminator,
    node_at,
    pinned,
    pinned_values,
    resolve,
)

US = {"properties": {"country": {"enum": ["USA"]}, "state": {"enum": ["CT", "NY"]}}}
CA = {"properties": {"country": {"const": "CAN"}, "state": {"enum": ["ON", "QC"]}}}
OTHER = {"properties": {"country": {"not": {"enum": ["USA", "CAN"]}}}}


def test_a_branch_pins_what_it_fixes_to_one_value() -> None:
    assert pinned({}, US) == {"country"}
    assert pinned({}, CA) == {"country"}
    assert pinned({}, OTHER) == set()
    assert pinned({}, {"type": "string"}) == set()
    assert pinned({}, False) == set()


def test_the_one_object_branch_not_turned_down_by_a_pin_is_chosen() -> None:
    branches = [CA, US, OTHER]
    fits = [False, False, False]
    # USA with a state of another country: CAN and OTHER turned down by the country
    assert chosen_branch({}, branches, [{"country"}, {"state"}, {"country"}], fits) == 1
    # France with a bad province: both pinning branches turned down by the country
    assert chosen_branch({}, branches, [{"country"}, {"country"}, {"provinceCode"}], fits) == 2
    # no country given: nothing turns a branch down, nothing is chosen
    assert chosen_branch({}, branches, [{"state"}, {"state"}, {"provinceCode"}], fits) is None


def test_branches_that_are_not_for_such_an_object_are_never_chosen() -> None:
    # oneOf [string, US] answered with Canada: the string branch does not fit the object as a
    # whole, US is turned down by its pin: nothing is chosen (the general error stays)
    assert chosen_branch({}, [{"type": "string"}, US], [set(), {"country"}], [True, False]) is None
    assert chosen_branch({}, [False, US], [set(), {"country"}], [True, False]) is None
    assert chosen_branch({}, [OTHER, US], [set(), {"country"}], [True, False]) is None


def test_without_any_pin_nothing_is_chosen() -> None:
    branches = [{"properties": {"email": {"not": {"const": ""}}}}, {"required": ["phone"]}]
    assert chosen_branch({}, branches, [{"email"}, set()], [False, False]) is None


def test_local_references_are_followed() -> None:
    root: dict[str, Any] = {
        "$defs": {"us": US, "usa": {"const": "USA"}, "loop": {"$ref": "#/$defs/loop"}}
    }
    assert resolve(root, {"$ref": "#/$defs/us"}) is US
    assert resolve(root, {"$ref": "https://example.com/x"}) is None
    assert resolve(root, {"$ref": "#/$defs/loop"}) is None
    assert pinned(root, {"$ref": "#/$defs/us"}) == {"country"}
    assert pinned(root, {"properties": {"country": {"$ref": "#/$defs/usa"}}}) == {"country"}
    assert node_at(root, ["$defs", "us", "properties", "country", "enum", 0]) == "USA"
    assert node_at(root, ["$defs", "missing"]) is None


def test_mismatched_counts_give_no_choice() -> None:
    assert chosen_branch({}, [US, CA], [set()], [False]) is None


def test_errors_are_replaced_by_their_chosen_branches_all_the_way_down() -> None:
    from tellonce_shared.schema_branches import into_branches

    branches = {1: [2, 3], 2: [4]}
    assert list(into_branches([0, 1, 5], branches.get)) == [0, 4, 3, 5]


def test_pinned_values_lists_every_value_a_branch_allows() -> None:
    two = {"properties": {"country": {"enum": ["USA", "PRI"]}, "city": {"type": "string"}}}
    assert pinned_values({}, two) == {"country": ("USA", "PRI")}
    assert pinned_values({}, CA) == {"country": ("CAN",), "state": ("ON", "QC")}
    assert pinned(None, two) == set()


def test_the_discriminator_is_the_property_that_picks_one_branch_per_value() -> None:
    found = discriminator({}, [US, CA, OTHER])
    assert found == Discriminator(name="country", values=(("USA",), ("CAN",), ()), other=2)
    assert found is not None
    assert found.listed() == ("USA", "CAN")
    assert discriminator({}, [US, CA]) == Discriminator("country", (("USA",), ("CAN",)), None)


def test_no_discriminator_when_branches_overlap_or_stay_open() -> None:
    also_us = {"properties": {"country": {"enum": ["USA", "PRI"]}}}
    assert discriminator({}, [US, also_us]) is None  # USA selects two branches
    open_country = {"properties": {"country": {"type": "string"}}}
    assert discriminator({}, [US, open_country]) is None
    partial = {"properties": {"country": {"not": {"enum": ["USA"]}}}}
    assert discriminator({}, [US, CA, partial]) is None  # CAN would select two branches
    assert discriminator({}, [US, OTHER, OTHER]) is None  # two "every other" branches
    assert discriminator({}, [US]) is None
    assert discriminator({}, [US, {"required": ["country"]}]) is None


def test_the_discriminator_follows_local_references() -> None:
    root = {"$defs": {"us": US, "usa": {"const": "USA"}}}
    us_by_ref = {"properties": {"country": {"$ref": "#/$defs/usa"}}}
    assert discriminator(root, [{"$ref": "#/$defs/us"}, CA]) is not None
    found = discriminator(root, [us_by_ref, CA])
    assert found is not None
    assert found.values == (("USA",), ("CAN",))
