"""Names read as canonical words: the evidence that survives agencies' naming."""

from __future__ import annotations

import pytest

from tellonce_registry.audit.text import read_words, split_name


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("veteranSocialSecurityNumber", ["veteran", "social", "security", "number"]),
        ("date_of_birth", ["date", "of", "birth"]),
        ("SSNLast4", ["ssn", "last", "4"]),
        ("zipcode", ["zipcode"]),
        ("dateofbirth", ["date", "of", "birth"]),
        ("mailing-address.line1", ["mailing", "address", "line", "1"]),
    ],
)
def test_split_name_handles_camel_snake_and_run_together_words(name: str, words: list[str]) -> None:
    assert split_name(name) == words


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("dob", "dateOfBirth"),
        ("birth_date", "Date of birth"),
        ("SSN", "social_security_number"),
        ("socSecNo", "SocialSecurityNumber"),
        ("zip", "postal_code"),
        ("ZipCode", "postcode"),
        ("e-mail", "emailAddress"),
        ("telephoneNumber", "phone_no"),
        ("fname", "first_name"),
        ("surname", "lastName"),
        ("acctNo", "account_number"),
    ],
)
def test_different_spellings_of_one_fact_read_the_same(a: str, b: str) -> None:
    assert read_words(a).core == read_words(b).core


def test_roles_say_whose_fact_and_stay_out_of_the_fact() -> None:
    veteran = read_words("veteranDateOfBirth")
    spouse = read_words("spouse_dob")
    assert veteran.core == spouse.core == ("birth", "date")
    assert veteran.roles == ("veteran",)
    assert spouse.roles == ("spouse",)


def test_qualifiers_are_kinds_of_a_fact() -> None:
    words = read_words("homePhoneNumber")
    assert words.core == ("phone",)
    assert words.qualifiers == ("home",)


@pytest.mark.parametrize(("a", "b"), [("birthDate", "deathDate"), ("firstName", "lastName")])
def test_different_facts_read_differently(a: str, b: str) -> None:
    assert read_words(a).core != read_words(b).core


# ------------------------------------------------------------------------------ address lines
# The number of an address line is part of the fact: the second and third lines are not the
# street (review: 95 of the demo's 155 "Street address" fields were second and third lines, and
# confirming the cluster prefilled the street into "Apartment, suite, unit").


@pytest.mark.parametrize(
    "name",
    [
        "street2",
        "addressLine2",
        "address_line_2",
        "addr_line_2",
        "line2",
        "address2",
        "streetAddress2",
        "mailingAddressStreet2",
        "Address line 2",
    ],
)
def test_a_second_address_line_is_the_unit_not_the_street(name: str) -> None:
    words = read_words(name)
    assert words.core == read_words("apartment").core == ("unit",)
    assert "2" not in words.qualifiers


@pytest.mark.parametrize(
    "name", ["street3", "addressLine3", "address_line_3", "line3", "address3", "Address line 3"]
)
def test_a_third_address_line_is_a_fact_of_its_own(name: str) -> None:
    assert read_words(name).core == ("line3",)


def test_a_fourth_line_is_neither_the_street_nor_the_unit() -> None:
    assert read_words("address4").core == ("line4",)


@pytest.mark.parametrize(
    "name", ["street", "street1", "line1", "addressLine1", "address_line_1", "Street address"]
)
def test_the_first_address_line_stays_the_street(name: str) -> None:
    assert read_words(name).core == ("street",)


def test_a_title_that_says_address_line_2_is_the_unit_wherever_the_number_is() -> None:
    assert "unit" in read_words("Address line 2 (optional)").core


@pytest.mark.parametrize(
    ("name", "core", "qualifier"),
    [
        # a second phone or email is the same kind of fact (whose prefill is the same person's)
        ("phone2", ("phone",), "2"),
        ("email2", ("email",), "2"),
        # a length, not an ordinal
        ("zipCode5", ("code", "postal"), "5"),
        ("ssnLast4", ("last", "ssn"), "4"),
        # the city of a second address: the number is not at the end of a line word
        ("address2City", ("address", "city"), "2"),
        # a form's own line numbers ("Line 2: wages") are not address lines
        ("Line 2: wages", ("line", "wage"), "2"),
        # a number that no address line has
        ("street10", ("street",), "10"),
    ],
)
def test_other_numbers_stay_qualifiers(name: str, core: tuple[str, ...], qualifier: str) -> None:
    words = read_words(name)
    assert words.core == core
    assert qualifier in words.qualifiers
