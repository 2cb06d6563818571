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
