"""Field names and titles as canonical words, so that ``veteranDOB``, ``date_of_birth`` and
"Veteran's birth date" all read ``birth date`` (whose: veteran).

Agencies name one fact in many ways; what survives the naming is the words. A name is split on
camelCase, snake_case, digits and punctuation; run-together words (``zipcode``,
``dateofbirth``) are segmented against the vocabulary; abbreviations are expanded; synonyms
collapse to one canonical word; roles (veteran, spouse, child...) are taken out as *whose* fact it
is; qualifiers (home, mobile, primary, mailing...) and numbers (``phone2``, ``zip5``) are taken
out as *which kind* of it, except the number of an address line: ``street2`` is the second line
(``unit``), not a kind of street.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")

# Abbreviations and synonyms -> canonical words (one token may become several).
SYNONYMS: dict[str, tuple[str, ...]] = {
    # identity numbers
    "ssn": ("ssn",),
    "ssns": ("ssn",),
    "socsec": ("ssn",),
    "ssnumber": ("ssn",),
    # birth
    "dob": ("birth", "date"),
    "bdate": ("birth", "date"),
    "bday": ("birth", "date"),
    "birthday": ("birth", "date"),
    "born": ("birth",),
    "birthdate": ("birth", "date"),
    "birthplace": ("birth", "place"),
    # names
    "fname": ("first", "name"),
    "firstname": ("first", "name"),
    "givenname": ("first", "name"),
    "given": ("first",),
    "forename": ("first", "name"),
    "lname": ("last", "name"),
    "lastname": ("last", "name"),
    "surname": ("last", "name"),
    "family": ("last",),
    "mname": ("middle", "name"),
    "middlename": ("middle", "name"),
    "mi": ("middle", "name"),
    "initial": ("middle",),
    "fullname": ("name",),
    "nm": ("name",),
    "sfx": ("suffix",),
    # contact
    "tel": ("phone",),
    "telephone": ("phone",),
    "telno": ("phone", "number"),
    "phone": ("phone",),
    "phones": ("phone",),
    "ph": ("phone",),
    "cell": ("mobile",),
    "cellular": ("mobile",),
    "cellphone": ("mobile", "phone"),
    "fax": ("fax",),
    "e": ("e",),
    "mail": ("mail",),
    "email": ("email",),
    "emails": ("email",),
    "emailaddress": ("email",),
    # address
    "addr": ("address",),
    "adr": ("address",),
    "address": ("address",),
    "addresses": ("address",),
    "residence": ("address",),
    "zip": ("postal", "code"),
    "zipcode": ("postal", "code"),
    "postcode": ("postal", "code"),
    "postalcode": ("postal", "code"),
    "zip5": ("postal", "code"),
    "st": ("street",),
    "str": ("street",),
    "street": ("street",),
    "streetaddress": ("street",),
    "apt": ("unit",),
    "apartment": ("unit",),
    "suite": ("unit",),
    "province": ("state",),
    "provincecode": ("state",),
    "region": ("state",),
    "town": ("city",),
    "municipality": ("city",),
    # bank
    "acct": ("account",),
    "acc": ("account",),
    "aba": ("routing",),
    "rtn": ("routing",),
    "transit": ("routing",),
    "routing": ("routing",),
    # numbers and the rest
    "no": ("number",),
    "num": ("number",),
    "nbr": ("number",),
    "nr": ("number",),
    "numbers": ("number",),
    "id": ("identifier",),
    "ident": ("identifier",),
    "identification": ("identifier",),
    "dt": ("date",),
    "yr": ("year",),
    "amt": ("amount",),
    "sex": ("gender",),
    "dod": ("death", "date"),
}

# Multi-word phrases that name one thing, applied after the word step (longest first).
PHRASES: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    (("social", "security", "number"), ("ssn",)),
    (("social", "security", "identifier"), ("ssn",)),
    (("social", "security", "account", "number"), ("ssn",)),
    (("ssn", "number"), ("ssn",)),
    (("soc", "sec", "number"), ("ssn",)),
    (("social", "sec", "number"), ("ssn",)),
    (("soc", "security", "number"), ("ssn",)),
    (("e", "mail"), ("email",)),
    (("email", "address"), ("email",)),
    (("electronic", "mail"), ("email",)),
    (("phone", "number"), ("phone",)),
    (("mobile", "number"), ("mobile", "phone")),
    (("postal", "code", "code"), ("postal", "code")),
    (("address", "line", "1"), ("street",)),
    (("line", "1"), ("street",)),
    (("street", "address"), ("street",)),
    (("routing", "number"), ("routing",)),
    (("bank", "routing"), ("routing",)),
    (("last", "name"), ("last", "name")),
    (("maiden", "name"), ("maiden", "name")),
)

# Address lines. The number of a line is part of the fact, not a kind of it: ``street2``,
# ``addressLine2``, ``line2`` and ``address2`` are the second line (the dictionary's apartment,
# suite, unit: ``address.street2``), ``street3``/``addressLine3`` the third, and neither is the
# street. ``street1``/``line1`` stay the first line (the street).
LINE_WORDS = frozenset({"street", "address", "line"})
SECOND_LINE = "unit"
"""The second line reads as the unit, as the dictionary's ``address.street2`` does."""
LAST_LINE = 9
LINE_TOKENS = frozenset(f"line{n}" for n in range(3, LAST_LINE + 1))
"""The third and later lines: a fact each (``line3``)."""


def line_token(number: int) -> str | None:
    """The canonical word of an address line's number: None for the first (it is the street)
    and for numbers that are not a line's (``0``, ``10``...)."""
    if number == 2:
        return SECOND_LINE
    if 3 <= number <= LAST_LINE:
        return f"line{number}"
    return None


# Whose fact it is: people a form asks about.
ROLES: dict[str, str] = {
    "veteran": "veteran",
    "veterans": "veteran",
    "vet": "veteran",
    "applicant": "applicant",
    "claimant": "claimant",
    "spouse": "spouse",
    "spouses": "spouse",
    "husband": "spouse",
    "wife": "spouse",
    "dependent": "dependent",
    "dependents": "dependent",
    "child": "child",
    "children": "child",
    "childs": "child",
    "son": "child",
    "daughter": "child",
    "caregiver": "caregiver",
    "sponsor": "sponsor",
    "student": "student",
    "beneficiary": "beneficiary",
    "deceased": "deceased",
    "decedent": "deceased",
    "guardian": "guardian",
    "parent": "parent",
    "mother": "mother",
    "mothers": "mother",
    "father": "father",
    "fathers": "father",
    "representative": "representative",
    "preparer": "preparer",
    "relative": "relative",
    "patient": "patient",
    "servicemember": "service member",
    "minor": "minor",
    "survivor": "survivor",
    "widow": "survivor",
    "widower": "survivor",
    "person": "person",
    "persons": "person",
    "individual": "person",
    "recipient": "recipient",
    "filer": "filer",
    "taxpayer": "taxpayer",
    "owner": "owner",
    "tenant": "tenant",
    "employee": "employee",
    "worker": "employee",
    "member": "member",
    "resident": "resident",
    "contact": "contact",
    "self": "applicant",
    "your": "applicant",
    "my": "applicant",
}

# Which kind of the fact: words that do not change what the fact is.
QUALIFIERS = frozenset(
    {
        "home",
        "mobile",
        "work",
        "day",
        "daytime",
        "night",
        "evening",
        "primary",
        "secondary",
        "alternate",
        "alternative",
        "current",
        "present",
        "previous",
        "prior",
        "former",
        "mailing",
        "permanent",
        "temporary",
        "preferred",
        "international",
        "domestic",
        "main",
        "business",
        "personal",
        "one",
        "two",
        "full",
        "legal",
        "complete",
        "usa",
        "us",
        "physical",
        "info",
        "information",
        "details",
        "data",
        "value",
        "field",
        "text",
        "input",
        "entry",
        "enter",
        "provide",
        "please",
    }
)

STOPWORDS = frozenset(
    {"of", "the", "a", "an", "and", "in", "for", "to", "on", "at", "with", "by", "is", "s", "if"}
)

# Run-together words are segmented only into these words.
VOCABULARY = frozenset(
    {w for w in SYNONYMS}
    | {w for words in SYNONYMS.values() for w in words}
    | {w for phrase, _ in PHRASES for w in phrase}
    | set(ROLES)
    | QUALIFIERS
    | STOPWORDS
    | LINE_TOKENS
    | {
        "name",
        "date",
        "birth",
        "number",
        "code",
        "city",
        "state",
        "county",
        "country",
        "street",
        "postal",
        "zip",
        "first",
        "last",
        "middle",
        "suffix",
        "prefix",
        "bank",
        "account",
        "type",
        "file",
        "service",
        "security",
        "social",
        "income",
        "amount",
        "gross",
        "net",
        "marital",
        "status",
        "marriage",
        "death",
        "place",
        "signature",
        "gender",
        "race",
        "ethnicity",
        "citizenship",
        "branch",
        "start",
        "end",
        "from",
        "to",
        "line",
        "unit",
        "employer",
        "school",
        "program",
        "relationship",
        "title",
        "maiden",
        "license",
        "driver",
        "drivers",
        "passport",
        "medicare",
        "medicaid",
        "insurance",
        "policy",
        "group",
        "checking",
        "savings",
        "deposit",
        "direct",
        "financial",
        "institution",
        "entry",
        "discharge",
        "separation",
        "occupation",
        "monthly",
        "annual",
        "yearly",
        "total",
    }
)


@dataclass(frozen=True, slots=True)
class Words:
    """A name or a phrase read as canonical words."""

    core: tuple[str, ...]
    """What the fact is (sorted, no duplicates): ``('birth', 'date')``."""
    roles: tuple[str, ...]
    """Whose fact: ``('veteran',)``."""
    qualifiers: tuple[str, ...]
    """Which kind of it: ``('home',)``."""

    @property
    def key(self) -> str:
        return " ".join(self.core)


def split_name(name: str) -> list[str]:
    """``veteranSSNLast4`` -> ``['veteran', 'ssn', 'last', '4']``; lower case."""
    words: list[str] = []
    for chunk in re.split(r"[^A-Za-z0-9]+", name):
        if not chunk:
            continue
        if chunk.lower() in SYNONYMS:
            words.append(chunk.lower())
            continue
        for piece in _CAMEL.findall(chunk):
            words.extend(segment(piece.lower()))
    return words


@lru_cache(maxsize=65536)
def segment(word: str) -> tuple[str, ...]:
    """Split a run-together lower-case word (``dateofbirth``) into vocabulary words, or keep it
    whole when it is a word already or cannot be split completely."""
    if word in VOCABULARY or len(word) < 5 or word.isdigit():
        return (word,)
    n = len(word)
    best: list[tuple[str, ...] | None] = [None] * (n + 1)
    best[0] = ()
    for end in range(1, n + 1):
        for start in range(max(0, end - 16), end):
            prefix = best[start]
            part = word[start:end]
            if prefix is None or part not in VOCABULARY or len(part) < 2:
                continue
            candidate = (*prefix, part)
            current = best[end]
            if current is None or len(candidate) < len(current):
                best[end] = candidate
    found = best[n]
    return found if found is not None else (word,)


def _singular(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


_PHRASE_STARTS = frozenset(phrase[0] for phrase, _ in PHRASES)


def _apply_phrases(words: list[str]) -> list[str]:
    if not _PHRASE_STARTS.intersection(words):
        return words
    out = list(words)
    for phrase, replacement in PHRASES:
        if phrase[0] not in out:
            continue
        size = len(phrase)
        i = 0
        while i + size <= len(out):
            if tuple(out[i : i + size]) == phrase:
                out[i : i + size] = list(replacement)
                i += len(replacement)
            else:
                i += 1
    return out


def _address_lines(words: list[str]) -> list[str]:
    """The number of an address line read as part of the fact: ``address line 2`` anywhere
    (a title's "Address line 2 (optional)"), and a line word with a number at the end of a
    name (``street2``, ``streetAddress3``, ``line2``, ``address4``), become the line's word,
    with the line words before the number. A number elsewhere (``address2City``: the city of
    a second address; "Line 2: wages") and any other number (``phone2``, ``zip5``,
    ``ssnLast4``) are left to be read as before."""
    for i, word in enumerate(words):
        if not word.isdigit() or i == 0 or words[i - 1] not in LINE_WORDS:
            continue
        explicit = i >= 2 and words[i - 2 : i] == ["address", "line"]
        if not explicit and i != len(words) - 1:
            continue
        token = line_token(int(word))
        if token is None:
            return words
        start = i
        while start > 0 and words[start - 1] in LINE_WORDS:
            start -= 1
        return [*words[:start], token, *words[i + 1 :]]
    return words


@lru_cache(maxsize=65536)
def read_words(text: str) -> Words:
    """Canonical words of a name or a title (cached: catalogs repeat names a lot)."""
    raw = split_name(text)
    # "ssnOrTin", "phone or email": the first alternative names the fact.
    if "or" in raw:
        raw = raw[: raw.index("or")] or raw[raw.index("or") + 1 :]
    expanded: list[str] = []
    for word in raw:
        if word in SYNONYMS:
            expanded.extend(SYNONYMS[word])
        else:
            expanded.append(word)
    expanded = _apply_phrases(_address_lines(expanded))
    core: list[str] = []
    roles: list[str] = []
    qualifiers: list[str] = []
    for word in expanded:
        if word in STOPWORDS:
            continue
        if word in ROLES:
            roles.append(ROLES[word])
            continue
        if word in QUALIFIERS or word.isdigit():
            qualifiers.append(word)
            continue
        word = _singular(word)
        if word in SYNONYMS and SYNONYMS[word] != (word,):
            core.extend(SYNONYMS[word])
        else:
            core.append(word)
    if not core and "mobile" in qualifiers:
        core.append("phone")
    return Words(
        core=tuple(sorted(set(core))),
        roles=tuple(dict.fromkeys(roles)),
        qualifiers=tuple(dict.fromkeys(qualifiers)),
    )
