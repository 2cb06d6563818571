"""Facts that forms everywhere ask for, described by the words that name them and the values
that fit them. This is the audit's synonym table: it names no form and no agency, only the
common ways a fact is written (``dob``, ``birthDate``, "date of birth"), and what a value of
that fact looks like (a pattern for it accepts ``123-45-6789``; its ``format`` is ``email``).

Fields that match no concept are still clustered, by their canonical words (see clustering)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from tellonce_registry.audit.fields import FieldRecord
from tellonce_registry.audit.text import LINE_TOKENS
from tellonce_registry.elements.compat import search

# Words that name a part of a larger thing: read them with the container they sit in
# (``/veteran/fullName/first`` is a first name, ``/mailingAddress/city`` an address city).
PART_WORDS = frozenset(
    {
        "first",
        "middle",
        "last",
        "suffix",
        "prefix",
        "name",
        "street",
        "city",
        "state",
        "county",
        "country",
        "postal",
        "code",
        "unit",
        "number",
        "line",
        "from",
        "to",
        "start",
        "end",
    }
    | LINE_TOKENS
)
# Containers that say little on their own: keep reading up the path past them.
THIN_CONTAINERS = frozenset({"date", "range", "period", "dates"})
CONTAINERS: dict[str, str] = {
    "name": "name",
    "address": "address",
    "location": "address",
}

# A value a pattern should reject unless it accepts anything: a pattern that accepts it says
# nothing about the fact.
_JUNK = ("hello world", "x", "Zz-9 !")


@dataclass(frozen=True, slots=True)
class Concept:
    id: str
    """Suggested data element id for the cluster (``person.ssn``)."""
    label: str
    phrases: tuple[frozenset[str], ...]
    """Canonical word sets that name the fact."""
    types: frozenset[str] = frozenset({"string"})
    formats: frozenset[str] = frozenset()
    samples: tuple[str, ...] = ()
    """Values of the fact: a pattern written for it accepts at least one."""
    enum_values: frozenset[str] = frozenset()
    """Lower-cased values an ``enum`` of the fact shares some of."""
    needs_context: frozenset[str] = frozenset()
    """At least one of these words must appear in the field's words or its ancestors'."""
    by_format: bool = False
    """A field with one of ``formats`` is this fact whatever it is called."""
    extra: dict[str, str] = field(default_factory=dict)


def _p(*phrases: str) -> tuple[frozenset[str], ...]:
    return tuple(frozenset(p.split()) for p in phrases)


US_STATES = frozenset(
    [
        "al",
        "ak",
        "az",
        "ar",
        "ca",
        "co",
        "ct",
        "de",
        "dc",
        "fl",
        "ga",
        "hi",
        "id",
        "il",
        "in",
        "ia",
        "ks",
        "ky",
        "la",
        "me",
        "md",
        "ma",
        "mi",
        "mn",
        "ms",
        "mo",
        "mt",
        "ne",
        "nv",
        "nh",
        "nj",
        "nm",
        "ny",
        "nc",
        "nd",
        "oh",
        "ok",
        "or",
        "pa",
        "ri",
        "sc",
        "sd",
        "tn",
        "tx",
        "ut",
        "vt",
        "va",
        "wa",
        "wv",
        "wi",
        "wy",
        "pr",
        "gu",
        "vi",
        "as",
        "mp",
    ]
)

CONCEPTS: tuple[Concept, ...] = (
    Concept(
        "person.ssn",
        "Social security number",
        _p("ssn", "ssn identifier", "taxpayer identifier ssn"),
        types=frozenset({"string", "integer"}),
        samples=("123456789", "123-45-6789"),
    ),
    Concept(
        "person.ssnLast4",
        "Last four digits of the SSN",
        _p("last ssn", "four last ssn", "ssn digit last four", "ssn partial"),
        types=frozenset({"string", "integer"}),
        samples=("1234",),
    ),
    Concept(
        "person.birthDate",
        "Date of birth",
        _p("birth date", "birth"),
        formats=frozenset({"date", "date-time"}),
        samples=("1980-01-31", "01/31/1980"),
    ),
    Concept(
        "person.birthPlace",
        "Place of birth",
        _p("birth place", "birth city", "birth state", "birth country", "birth city state"),
    ),
    Concept("person.givenName", "First name", _p("first name")),
    Concept("person.middleName", "Middle name", _p("middle name")),
    Concept("person.familyName", "Last name", _p("last name")),
    Concept(
        "person.suffix",
        "Name suffix",
        _p("name suffix"),
        enum_values=frozenset({"jr", "jr.", "sr", "sr.", "ii", "iii", "iv"}),
    ),
    Concept("person.fullName", "Full name", _p("name")),
    Concept("person.maidenName", "Maiden name", _p("maiden name")),
    Concept(
        "person.sex",
        "Sex or gender",
        _p("gender"),
        enum_values=frozenset({"f", "m", "male", "female", "x"}),
    ),
    Concept(
        "person.maritalStatus",
        "Marital status",
        _p("marital status", "marital"),
        enum_values=frozenset({"married", "single", "divorced", "widowed", "separated"}),
    ),
    Concept(
        "person.email",
        "Email address",
        _p("email"),
        formats=frozenset({"email", "idn-email"}),
        samples=("jane.doe@example.gov",),
        by_format=True,
    ),
    Concept(
        "person.phone",
        "Phone number",
        _p("phone", "number phone", "phone usa", "phone phone"),
        types=frozenset({"string", "integer"}),
        samples=("5551234567", "555-123-4567", "(555) 123-4567", "+1 555 123 4567"),
    ),
    Concept(
        "address.street",
        "Street address",
        _p("street", "address street", "address", "address street unit"),
    ),
    # ``street2``/``addressLine2`` read ``unit``, ``street3``/``addressLine3`` read ``line3``
    # (text.py): never the street itself.
    Concept("address.street2", "Apartment or unit", _p("unit", "address unit")),
    Concept("address.street3", "Address line 3", _p("line3", "address line3")),
    Concept("address.city", "City", _p("city", "address city")),
    Concept(
        "address.state",
        "State",
        _p("state", "address state", "code state", "address code state"),
        enum_values=US_STATES,
    ),
    Concept("address.county", "County", _p("county", "address county")),
    Concept(
        "address.country",
        "Country",
        _p("country", "address country", "code country"),
        types=frozenset({"string"}),
    ),
    Concept(
        "address.postalCode",
        "Postal (ZIP) code",
        _p("code postal", "address code postal", "postal", "address postal"),
        types=frozenset({"string", "integer"}),
        samples=("06106", "06106-1234", "061061234"),
    ),
    Concept(
        "bank.routingNumber",
        "Bank routing number",
        _p("routing", "bank routing", "routing transit"),
        types=frozenset({"string", "integer"}),
        samples=("021000021",),
    ),
    Concept(
        "bank.accountNumber",
        "Bank account number",
        _p("account number", "account bank number", "account", "account bank", "account deposit"),
        types=frozenset({"string", "integer"}),
        samples=("123456789012", "12345678"),
        needs_context=frozenset({"bank", "deposit", "checking", "saving", "financial", "routing"}),
    ),
    Concept(
        "bank.accountType",
        "Bank account type",
        _p("account type", "account bank type"),
        enum_values=frozenset({"checking", "savings", "saving"}),
        needs_context=frozenset({"bank", "deposit", "checking", "saving", "financial", "routing"}),
    ),
    Concept("bank.name", "Bank name", _p("bank name", "bank", "financial institution name")),
    Concept(
        "case.fileNumber",
        "File number",
        _p("file number", "file", "case file number", "file identifier"),
        types=frozenset({"string", "integer"}),
        samples=("12345678", "C12345678", "123456789"),
    ),
    Concept(
        "person.serviceNumber",
        "Military service number",
        _p("number service", "military number service", "identifier service"),
        samples=("AB123456", "1234567"),
    ),
    Concept("person.deathDate", "Date of death", _p("date death", "death")),
)

# A dictionary alias of an element in these domains counts only where the path speaks of the
# domain: ``reasonForSeparation`` under ``marriages`` is not why a job ended.
NAMESPACE_CONTEXT: dict[str, frozenset[str]] = {
    "employment": frozenset(
        {"employ", "employer", "employment", "job", "work", "occupation", "wage", "income"}
    ),
    "vehicle": frozenset({"vehicle", "automobile", "car", "auto", "truck", "motor"}),
    "veteran": frozenset({"veteran", "service", "military", "duty", "branch"}),
    "driver": frozenset({"driver", "license", "licence"}),
    "health": frozenset({"health", "medical", "medicaid", "insurance", "pregnant"}),
    "tax": frozenset({"tax", "filing"}),
    "child": frozenset({"child", "care"}),
}

_PHRASE_INDEX: dict[frozenset[str], list[Concept]] = {}
for _concept in CONCEPTS:
    for _phrase in _concept.phrases:
        _PHRASE_INDEX.setdefault(_phrase, []).append(_concept)


def concepts_named(words: frozenset[str]) -> list[Concept]:
    """The concepts one of whose phrases is exactly these canonical words."""
    return _PHRASE_INDEX.get(words, [])


CONCEPTS_BY_ID = {c.id: c for c in CONCEPTS}


@dataclass(frozen=True, slots=True)
class ValueCheck:
    """What a field's type, format, pattern and enum say about a concept."""

    verdict: str
    """``support``, ``neutral`` or ``contradict``."""
    reasons: tuple[str, ...]


@lru_cache(maxsize=65536)
def _pattern_verdict(pattern: str, samples: tuple[str, ...]) -> tuple[str, str]:
    """What a field's pattern says about a concept with these sample values. The pattern is run
    by ``elements.compat.search`` (never Python's ``re``: a form's pattern may backtrack for
    ever); a pattern it refuses or gives up on says nothing."""
    if not samples:
        return "neutral", ""
    junk = [search(pattern, j) for j in _JUNK]
    if any(found is not False for found in junk):
        return "neutral", ""  # accepts anything, or cannot be read
    found = [search(pattern, s) for s in samples]
    if None in found:
        return "neutral", ""
    accepted = [s for s, ok in zip(samples, found, strict=True) if ok]
    if accepted:
        return "support", f"pattern {pattern} accepts {accepted[0]!r}"
    return "contradict", f"pattern {pattern} rejects {samples[0]!r}"


def check_values(record: FieldRecord, concept: Concept) -> ValueCheck:
    reasons: list[str] = []
    support = False
    numeric_ok = record.type == "number" and "integer" in concept.types
    if record.type is not None and record.type not in concept.types and not numeric_ok:
        return ValueCheck("contradict", (f"type {record.type} does not fit",))
    if record.format:
        if record.format in concept.formats:
            support = True
            reasons.append(f"format {record.format}")
        elif record.format in ("email", "idn-email", "date", "date-time", "uri", "uuid"):
            return ValueCheck("contradict", (f"format {record.format} does not fit",))
    if record.pattern:
        verdict, why = _pattern_verdict(record.pattern, concept.samples)
        if verdict == "contradict":
            return ValueCheck("contradict", (why,))
        if verdict == "support":
            support = True
            reasons.append(why)
    if record.enum:
        values = {v.strip().lower() for v in record.enum}
        if concept.enum_values:
            shared = values & concept.enum_values
            if not shared:
                return ValueCheck("contradict", ("enum values do not fit",))
            support = True
            reasons.append(f"enum shares {', '.join(sorted(shared)[:3])}")
        elif len(values) > 1 and concept.samples:
            return ValueCheck("contradict", ("a fixed list of choices does not fit",))
    return ValueCheck("support" if support else "neutral", tuple(reasons))
