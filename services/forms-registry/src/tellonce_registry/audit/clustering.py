"""Group fields that collect the same fact, mapped or not.

Each field is read as canonical words (``text``), with the container it sits in for part words
(``/veteran/fullName/first`` is a first name; ``/mailingAddress/zip`` a postal code) and whose
fact it is (the nearest role in its path). A field then names a known concept (``concepts``) by
its name, the ``$ref``'d definition it came from, or its title, unless its type, format, pattern
or enum contradict that concept; otherwise it is grouped with fields whose canonical words are the
same. A field mapped to a data element (``x-element`` or a confirmed audit decision) joins its
element's cluster, and so do the unmapped fields found alongside most of that element's fields.
Reviewers' split and reject decisions are applied last.

Everything here is pure and typed: a list of field records in, clusters out."""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from rapidfuzz import fuzz, process

from tellonce_registry.audit.concepts import (
    CONCEPTS_BY_ID,
    CONTAINERS,
    NAMESPACE_CONTEXT,
    PART_WORDS,
    THIN_CONTAINERS,
    Concept,
    check_values,
    concepts_named,
)
from tellonce_registry.audit.fields import ANY_ITEM, FieldRecord, pointer_segments
from tellonce_registry.audit.text import VOCABULARY, Words, read_words

FieldKey = tuple[str, str]
_VOCABULARY_LIST = sorted(w for w in VOCABULARY if len(w) >= 4)
_PHRASE_KEYS: dict[str, str] = {
    " ".join(sorted(phrase)): concept.id
    for concept in CONCEPTS_BY_ID.values()
    for phrase in concept.phrases
}
_PHRASE_LIST = sorted(_PHRASE_KEYS)
_CONCEPT_WORDS = frozenset(w for key in _PHRASE_KEYS for w in key.split())
NAME_PARTS = frozenset({"first", "middle", "last", "suffix", "prefix"})
FILER = "filer"
OWN = frozenset({FILER, "applicant", "claimant"})
"""*Whose* readings that are the person filling in the form: no role at all (``filer``), the
applicant (``applicant``, ``self``, ``your``, ``my``) and the claimant (the person whose claim
the form is). Prefill fills an element from the resident's own earlier answers, so a
confirmation that names no fields maps only these. Any other reading is someone else's or
cannot be told from the form alone: a spouse, a child, a guardian, an employer, a school, a
facility, a contact, and the veteran (the filer on 22-1990, the deceased on a survivor's
claim); and a container's words (``newAddress`` reads whose ``new``) say it is not the
filer's plain fact either."""


@dataclass(frozen=True, slots=True)
class Reading:
    """How the audit reads one field."""

    core: frozenset[str]
    whose: str
    qualifiers: tuple[str, ...]
    context: frozenset[str]
    notes: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return " ".join(sorted(self.core))


@dataclass(slots=True)
class Member:
    record: FieldRecord
    whose: str
    confidence: float
    evidence: tuple[str, ...]


@dataclass(slots=True)
class Cluster:
    id: str
    label: str
    kind: str
    """``element`` (mapped to a data element), ``concept`` (a known fact), ``words`` (same
    canonical words), ``split`` (a reviewer's split)."""
    element: str | None = None
    suggested_element: str | None = None
    members: list[Member] = field(default_factory=list)
    aliases: set[str] = field(default_factory=set)
    """Ids of the automatic clusters merged into this one (decisions taken on them apply)."""
    forms: list[str] = field(default_factory=list)
    """Forms that ask the fact (set by :meth:`seal` once the members are final)."""
    agencies: list[str] = field(default_factory=list)

    def seal(self) -> Cluster:
        self.forms = sorted({m.record.form for m in self.members})
        self.agencies = sorted({m.record.agency for m in self.members})
        return self

    @property
    def confidence(self) -> float:
        if not self.members:
            return 0.0
        return round(sum(m.confidence for m in self.members) / len(self.members), 3)


@dataclass(frozen=True, slots=True)
class Decision:
    """A reviewer's decision, honoured on every re-run."""

    id: int
    kind: str
    """``confirm`` (map the fields to ``element``), ``split`` (move the fields to a cluster of
    their own), ``reject`` (the fields do not hold the cluster's fact)."""
    cluster: str
    fields: tuple[FieldKey, ...]
    element: str | None = None
    label: str | None = None


@lru_cache(maxsize=65536)
def _correct(word: str) -> str | None:
    """A misspelt word read as the vocabulary word it is closest to (``adress``)."""
    if len(word) < 5 or word in VOCABULARY:
        return None
    found = process.extractOne(word, _VOCABULARY_LIST, scorer=fuzz.ratio, score_cutoff=86)
    return None if found is None else str(found[0])


def read_field(record: FieldRecord, ignore: frozenset[str] = frozenset()) -> Reading:
    """Canonical words of a field in its context; ``ignore`` holds words (agency codes) that
    never change what a fact is."""
    return _read(record.name, record.pointer, ignore)


def _owner(ancestors: Sequence[Words], ignore: frozenset[str]) -> set[str]:
    """Whose a bare container is (``/educationProgram/address/street``: the education
    program's; ``/doctorProvidedCare/*/address/street``: the doctor's): the words of the first
    ancestor above it that has any, unless a role comes first (the role says whose)."""
    for anc in ancestors:
        if anc.roles:
            return set()
        words = set(anc.core) - ignore - set(CONTAINERS)
        if words:
            return words
    return set()


def _listed(pointer: str, ignore: frozenset[str]) -> str:
    """Whose a field inside a list's items is, when nothing else says: the list's words
    (``/householdMembers/*/dateOfBirth``: the household members'). An item is one of several
    people or things, never the filer's one fact (the filer's own details are not asked once
    per item), so such a field is not the filer's even without a role word."""
    segments = pointer_segments(pointer)[:-1]
    for i in range(len(segments) - 1, 0, -1):
        if segments[i] == ANY_ITEM:
            words = read_words(segments[i - 1])
            named = [w for w in (*words.roles, *words.core) if w not in ignore]
            return " ".join(dict.fromkeys(named)) or segments[i - 1].lower()
    return ""


@lru_cache(maxsize=131072)
def _read(name: str, pointer: str, ignore: frozenset[str]) -> Reading:
    leaf = read_words(name)
    core = set(leaf.core) - ignore
    notes: list[str] = []
    spelled: list[str] = []
    for word in list(core):
        fixed = _correct(word)
        if fixed is not None:
            core.discard(word)
            core.update(read_words(fixed).core or (fixed,))
            spelled.append(f"'{word}' read as '{fixed}'")
    if spelled:
        notes.append("spelling: " + ", ".join(spelled))
    segments = [s for s in pointer_segments(pointer)[:-1] if s != ANY_ITEM]
    ancestors: list[Words] = [read_words(s) for s in reversed(segments)]
    roles: list[str] = list(leaf.roles)
    context: set[str] = set(core)
    for anc in ancestors:
        context.update(anc.core)
    container_context: set[str] = set()
    complete = len(core) >= 2 and bool(core & set(CONTAINERS))
    if core <= PART_WORDS and not complete:
        for i, anc in enumerate(ancestors):
            acore = set(anc.core) - ignore
            if not acore:
                continue
            containers = {CONTAINERS[w] for w in acore if w in CONTAINERS}
            if containers:
                core |= containers
                container_context = acore - set(CONTAINERS) or _owner(ancestors[i + 1 :], ignore)
            elif anc.roles and core and core <= NAME_PARTS:
                # ``/personWhoLivesWithChild/first``: a part of a person's name.
                core.add("name")
                container_context = acore
            else:
                core |= acore
                if acore <= THIN_CONTAINERS:
                    continue
            break
    if not roles:
        for anc in ancestors:
            if anc.roles:
                roles = list(anc.roles)
                break
    if roles:
        whose = " ".join(dict.fromkeys(roles))
    elif container_context:
        whose = " ".join(sorted(container_context))
    else:
        whose = _listed(pointer, ignore) or FILER
    if not core:
        core = {name.lower()}
    return Reading(
        core=frozenset(core),
        whose=whose,
        qualifiers=leaf.qualifiers,
        context=frozenset(context),
        notes=tuple(notes),
    )


@dataclass(slots=True)
class Match:
    concept: Concept | None
    cluster_id: str
    label: str
    confidence: float
    evidence: tuple[str, ...]
    suggested: str | None = None
    """The data element the match points at (a concept's or a dictionary alias's)."""


def _candidates(
    record: FieldRecord, reading: Reading, ignore: frozenset[str]
) -> list[tuple[str, Concept, float]]:
    """Concepts the field's name, definition and title point at, strongest source first."""
    out: list[tuple[str, Concept, float]] = []
    for concept in concepts_named(reading.core):
        out.append((f"name '{record.name}' reads '{reading.key}'", concept, 0.8))
    if record.ref:
        ref_words = read_words(record.ref)
        for concept in concepts_named(frozenset(set(ref_words.core) - ignore)):
            out.append((f"defined as '{record.ref}'", concept, 0.7))
    if record.title:
        concept_id = _title_concept(record.title, ignore)
        if concept_id is not None:
            out.append((f"title '{record.title}'", CONCEPTS_BY_ID[concept_id], 0.65))
    return out


@lru_cache(maxsize=65536)
def _title_concept(title: str, ignore: frozenset[str]) -> str | None:
    """The concept a title names, allowing small differences (rapidfuzz token sort ratio)."""
    words = set(read_words(title).core) - ignore
    if not words & _CONCEPT_WORDS:
        return None
    title_key = " ".join(sorted(words))
    found = process.extractOne(
        title_key, _PHRASE_LIST, scorer=fuzz.token_sort_ratio, score_cutoff=90
    )
    return None if found is None else _PHRASE_KEYS[str(found[0])]


@lru_cache(maxsize=65536)
def _words_id(key: str, family: str) -> str:
    digest = hashlib.sha1(f"{key}|{family}".encode(), usedforsecurity=False).hexdigest()
    return "w-" + digest[:12]


def _family(type_: str | None) -> str:
    if type_ in ("integer", "number"):
        return "number"
    return type_ or "any"


@dataclass(frozen=True, slots=True)
class DictionaryEntry:
    """A data element of the registry's dictionary, as its aliases name it."""

    element: str
    label: str
    type: str | None


def _alias_fits(
    entry: DictionaryEntry,
    reading: Reading,
    family: str,
    form_words: frozenset[str],
    top_level: bool,
) -> bool:
    """An alias counts when the value type fits and, for domain-specific elements, the path
    speaks of the domain (``vehicle``, ``employer``...), or, for a field at the top of its form,
    the form does somewhere."""
    if entry.type is not None and _family(entry.type) != family:
        return False
    needs = NAMESPACE_CONTEXT.get(entry.element.split(".", 1)[0])
    if needs is None or needs & reading.context:
        return True
    return top_level and bool(needs & form_words)


def dictionary_index(
    aliases: Mapping[str, Sequence[str]],
    labels: Mapping[str, str],
    types: Mapping[str, str | None] | None = None,
) -> dict[frozenset[str], DictionaryEntry]:
    """Canonical words of every alias -> its element; words two elements share, and words the
    concept table already names, are left out (they would decide nothing or contradict it)."""
    index: dict[frozenset[str], DictionaryEntry] = {}
    clashes: set[frozenset[str]] = set()
    for element, names in aliases.items():
        for name in names:
            core = frozenset(read_words(name).core)
            if not core or concepts_named(core):
                continue
            entry = DictionaryEntry(
                element, labels.get(element, element), (types or {}).get(element)
            )
            if core in index and index[core].element != element:
                clashes.add(core)
            index[core] = entry
    for core in clashes:
        index.pop(core, None)
    return index


_MATCHES: dict[tuple[Any, ...], tuple[Reading, Match | None, tuple[str, ...]]] = {}
"""Concept matches by everything of a field they depend on: published versions never change,
so a re-run after a decision or a new form mostly reads fields it has read before."""


def _match_concept(
    record: FieldRecord, ignore: frozenset[str]
) -> tuple[Reading, Match | None, tuple[str, ...]]:
    """The concept a field's name, definition or title names, unless its values contradict it;
    with the contradictions found on the way."""
    reading = read_field(record, ignore)
    contradicted: list[str] = []
    chosen: tuple[str, Concept, float] | None = None
    support: tuple[str, ...] = ()
    agreeing: list[str] = []
    for source, concept, base in _candidates(record, reading, ignore):
        if chosen is not None:
            if concept.id == chosen[1].id and source not in agreeing:
                agreeing.append(source)
            continue
        if concept.needs_context and not (concept.needs_context & reading.context):
            contradicted.append(f"{concept.label}: no {'/'.join(sorted(concept.needs_context))}")
            continue
        values = check_values(record, concept)
        if values.verdict == "contradict":
            contradicted.append(f"not {concept.label}: {'; '.join(values.reasons)}")
            continue
        chosen = (source, concept, base)
        support = values.reasons
    if chosen is None and record.format:
        for concept in CONCEPTS_BY_ID.values():
            if concept.by_format and record.format in concept.formats:
                chosen = (f"format {record.format}", concept, 0.6)
                break
    if chosen is None:
        return reading, None, tuple(contradicted)
    source, concept, base = chosen
    confidence = base + (0.15 if support else 0.0) + (0.05 if agreeing else 0.0)
    if reading.notes:
        confidence -= 0.1
    evidence = (source, *agreeing, *support, *reading.notes, f"whose: {reading.whose}")
    match = Match(
        concept,
        "c-" + concept.id,
        concept.label,
        round(min(confidence, 0.99), 3),
        evidence,
        concept.id,
    )
    return reading, match, ()


def match_field(
    record: FieldRecord,
    ignore: frozenset[str] = frozenset(),
    dictionary: Mapping[frozenset[str], DictionaryEntry] | None = None,
    form_words: frozenset[str] = frozenset(),
) -> tuple[Reading, Match]:
    signature = (
        record.name,
        record.pointer,
        record.title,
        record.ref,
        record.type,
        record.format,
        record.pattern,
        record.enum,
        ignore,
    )
    found = _MATCHES.get(signature)
    if found is None:
        if len(_MATCHES) > 250_000:
            _MATCHES.clear()
        found = _MATCHES[signature] = _match_concept(record, ignore)
    reading, concept_match, contradicted = found
    if concept_match is not None:
        return reading, concept_match
    notes = reading.notes
    family = _family(record.type)
    entry = dictionary.get(reading.core) if dictionary else None
    top_level = record.pointer.count("/") == 1
    if entry is not None and _alias_fits(entry, reading, family, form_words, top_level):
        evidence = (
            f"name '{record.name}' is an alias of {entry.element} in the element dictionary",
            *contradicted,
            *notes,
            f"whose: {reading.whose}",
        )
        return reading, Match(
            None, "c-" + entry.element, entry.label, 0.75, evidence, entry.element
        )
    evidence = (
        f"same words '{reading.key}' ({family})",
        *contradicted,
        *notes,
        f"whose: {reading.whose}",
    )
    return reading, Match(
        None, _words_id(reading.key, family), reading.key.capitalize(), 0.6, evidence
    )


def latest_fields(records: Iterable[FieldRecord]) -> list[FieldRecord]:
    """One record per (form, pointer): the newest published version that has it."""
    best: dict[FieldKey, FieldRecord] = {}
    for record in records:
        current = best.get(record.key)
        if current is None or record.version > current.version:
            best[record.key] = record
    return list(best.values())


def cluster_fields(
    records: Sequence[FieldRecord],
    *,
    decisions: Sequence[Decision] = (),
    element_labels: Mapping[str, str] | None = None,
    element_aliases: Mapping[str, Sequence[str]] | None = None,
    element_types: Mapping[str, str | None] | None = None,
) -> list[Cluster]:
    """Cluster the fields (newest published version of each) and apply reviewers' decisions.
    ``element_aliases`` (the dictionary's common field names per element) name facts the
    concept table does not know."""
    labels = dict(element_labels or {})
    dictionary = dictionary_index(element_aliases or {}, labels, element_types)
    fields = latest_fields(records)
    ignore = frozenset(a.lower() for a in {r.agency for r in fields})
    mappings: dict[FieldKey, str] = {}
    for decision in decisions:
        if decision.kind == "confirm" and decision.element:
            for key in decision.fields:
                mappings[key] = decision.element

    words_of: dict[str, set[str]] = defaultdict(set)
    if dictionary:
        for record in fields:
            words_of[record.form] |= read_field(record, ignore).context
    form_words = {form: frozenset(words) for form, words in words_of.items()}
    auto: dict[str, Cluster] = {}
    placed: list[tuple[FieldRecord, Reading, Match, str | None]] = []
    for record in fields:
        reading, match = match_field(
            record, ignore, dictionary, form_words.get(record.form, frozenset())
        )
        element = mappings.get(record.key) or record.element
        placed.append((record, reading, match, element))
        if match.cluster_id not in auto:
            auto[match.cluster_id] = Cluster(
                id=match.cluster_id,
                label=match.label,
                kind="concept" if match.suggested else "words",
                suggested_element=match.suggested,
            )

    # Which element each automatic cluster belongs to: the one most of its mapped fields have.
    mapped_in: dict[str, Counter[str]] = defaultdict(Counter)
    for _record, _reading, match, element in placed:
        if element:
            mapped_in[match.cluster_id][element] += 1
    owner: dict[str, str] = {}
    for cluster_id, counts in mapped_in.items():
        element, count = counts.most_common(1)[0]
        if count * 2 >= sum(counts.values()):
            owner[cluster_id] = element

    clusters: dict[str, Cluster] = {}

    def element_cluster(element: str) -> Cluster:
        cid = "e-" + element
        if cid not in clusters:
            concept = CONCEPTS_BY_ID.get(element)
            label = labels.get(element) or (concept.label if concept else element)
            clusters[cid] = Cluster(id=cid, label=label, kind="element", element=element)
        return clusters[cid]

    for record, reading, match, element in placed:
        if element:
            if owner.get(match.cluster_id) == element:
                element_cluster(element).aliases.add(match.cluster_id)
            source = "confirmed by a reviewer" if record.key in mappings else "x-element"
            member = Member(
                record,
                reading.whose,
                1.0,
                (f"mapped to {element} ({source})", f"whose: {reading.whose}"),
            )
            element_cluster(element).members.append(member)
            continue
        joined = owner.get(match.cluster_id)
        if joined:
            member = Member(
                record,
                reading.whose,
                match.confidence,
                (*match.evidence, f"found with fields mapped to {joined}"),
            )
            target = element_cluster(joined)
            target.members.append(member)
            target.aliases.add(match.cluster_id)
            continue
        base = auto[match.cluster_id]
        if base.id not in clusters:
            clusters[base.id] = base
        base.members.append(Member(record, reading.whose, match.confidence, match.evidence))

    _apply_reviews(clusters, decisions)
    ordered = [c.seal() for c in clusters.values() if c.members]
    ordered.sort(key=lambda c: (-len(c.forms), -len(c.agencies), -len(c.members), c.label))
    return ordered


def _apply_reviews(clusters: dict[str, Cluster], decisions: Sequence[Decision]) -> None:
    aliases = {alias: c.id for c in clusters.values() for alias in c.aliases}
    for decision in decisions:
        if decision.kind not in ("split", "reject"):
            continue
        source = clusters.get(decision.cluster) or clusters.get(aliases.get(decision.cluster, ""))
        if source is None:
            continue
        wanted = set(decision.fields)
        moving = [m for m in source.members if m.record.key in wanted]
        if not moving:
            continue
        source.members = [m for m in source.members if m.record.key not in wanted]
        if decision.kind == "split":
            target = Cluster(
                id=f"s-{decision.id}",
                label=decision.label or f"{source.label} (split)",
                kind="split",
            )
            clusters[target.id] = target
            for m in moving:
                evidence = (f"split from '{source.label}' by a reviewer", f"whose: {m.whose}")
                target.members.append(Member(m.record, m.whose, 1.0, evidence))
        else:
            for m in moving:
                rid = (
                    "r-"
                    + hashlib.sha1(
                        f"{m.record.form}|{m.record.pointer}".encode(), usedforsecurity=False
                    ).hexdigest()[:12]
                )
                clusters[rid] = Cluster(
                    id=rid,
                    label=f"{m.record.name} (rejected from '{source.label}')",
                    kind="rejected",
                    members=[
                        Member(
                            m.record,
                            m.whose,
                            1.0,
                            (f"rejected from '{source.label}' by a reviewer",),
                        )
                    ],
                )
