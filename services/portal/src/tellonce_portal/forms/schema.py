"""From a JSON Schema (draft-04 to 2020-12) and a UI document to fields and pages.

Real agencies' schemas use ``$ref`` into ``definitions``/``$defs``, ``allOf``, and ``oneOf`` /
``anyOf`` either as constraints ("one of these is required"), as nullable wrappers
(``[{"type": "null"}, {...}]``) or as object variants (an address by country). Variants told
apart by a discriminator (``country``) are asked per branch, each shown when the
discriminator selects it (:class:`BranchSplit`); other variants are merged into one set of
questions. The exact rule is the validator's, which reports it against the right pointer.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from tellonce_portal.forms import pointers
from tellonce_portal.forms.countries import COUNTRY_NAMES, country_name, every_name, folded
from tellonce_portal.forms.model import (
    OTHER_CHOICE,
    Condition,
    Field,
    Kind,
    Option,
    OtherChoice,
    Page,
    encode_value,
    listed_option,
    variant_name,
)
from tellonce_portal.forms.validate import lower_first, switch_of, switched_to
from tellonce_portal.i18n import Translator
from tellonce_shared import schema_branches
from tellonce_shared.words import asks_for_a_date

MAX_DEPTH = 12
AUTO_PAGE_SIZE = 6
SINGLE_PAGE_LEAVES = 12
LONG_TEXT = 255
MAX_CHOICES_WITH_OTHER = 10
"""A discriminator with an "every other value" branch is a choice of its listed values plus
"Another country" up to this many listed values; above, a text box."""

WIDGET_ALIASES = {"radio": "radios", "ssn": "text", "repeat": None, "number": None}
"""The registry's UI-document widget names -> the renderer's (None: decided by the type)."""

AUTOCOMPLETE = {
    "first": "given-name",
    "firstname": "given-name",
    "middle": "additional-name",
    "last": "family-name",
    "lastname": "family-name",
    "suffix": "honorific-suffix",
    "email": "email",
    "emailaddress": "email",
    "phone": "tel",
    "homephone": "tel",
    "mobilephone": "tel",
    "dayphone": "tel",
    "nightphone": "tel",
    "daytimephone": "tel",
    "phonenumber": "tel",
    "street": "address-line1",
    "street1": "address-line1",
    "addressline1": "address-line1",
    "street2": "address-line2",
    "addressline2": "address-line2",
    "street3": "address-line3",
    "addressline3": "address-line3",
    "city": "address-level2",
    "state": "address-level1",
    "postalcode": "postal-code",
    "zipcode": "postal-code",
    "country": "country",
    "dateofbirth": "bday",
    "birthdate": "bday",
}


def humanize(name: str) -> str:
    """``veteranDateOfBirth`` -> ``Veteran date of birth``."""
    words = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name.replace("_", " ")).split()
    if not words:
        return name
    text = " ".join(w if (w.isupper() and len(w) > 1) else w.lower() for w in words)
    return text[0].upper() + text[1:]


def _localized(value: Any, locale: str) -> tuple[str, str | None] | None:
    """A UI text in the page's locale; the second item names the fallback language, if any."""
    if isinstance(value, str):
        return value, None
    if isinstance(value, dict):
        if isinstance(value.get(locale), str):
            return value[locale], None
        for lang in ("en", *value.keys()):
            if isinstance(value.get(lang), str):
                return value[lang], (lang if lang != locale else None)
    return None


class UIDocument:
    """The UI document, read tolerantly. Documented shape (docs/portal.md):
    ``{"pages": [{"id", "title": {en, es}, "fields": [pointer...], "show_if"?}],
    "fields": {pointer: {"label", "hint", "widget", "show_if", "options": {value: label}}},
    "omit": [pointer...]}``; ``sections`` is accepted for ``pages`` and plain strings for
    localized texts."""

    def __init__(self, raw: Any) -> None:
        doc = raw if isinstance(raw, dict) else {}
        self.pages = doc.get("pages") or doc.get("sections") or []
        if not isinstance(self.pages, list):
            self.pages = []
        fields = doc.get("fields") or {}
        self.fields: dict[str, dict[str, Any]] = {}
        if isinstance(fields, dict):
            for key, value in fields.items():
                if isinstance(value, dict):
                    self.fields[_as_pointer(key)] = value
        omit = doc.get("omit") or []
        self.omit = {_as_pointer(p) for p in omit if isinstance(p, str)}

    def spec(self, pointer: str) -> dict[str, Any]:
        """UI settings for a concrete pointer; array indexes match ``*`` or are dropped."""
        if pointer in self.fields:
            return self.fields[pointer]
        generic = re.sub(r"/\d+(?=/|$)", "/*", pointer)
        if generic in self.fields:
            return self.fields[generic]
        stripped = re.sub(r"/\d+(?=/|$)", "", pointer)
        return self.fields.get(stripped, {})

    def omitted(self, pointer: str) -> bool:
        generic = re.sub(r"/\d+(?=/|$)", "/*", pointer)
        return pointer in self.omit or generic in self.omit


def _as_pointer(key: str) -> str:
    return key if key.startswith("/") else "/" + key.replace(".", "/")


class FormDefinition:
    """One form version: its schema, UI document and title, drawn in a locale."""

    def __init__(
        self, schema: dict[str, Any], ui: Any = None, *, title: str = "", locale: str = "en"
    ) -> None:
        self.schema = schema
        self.raw_ui = ui
        self.ui = UIDocument(ui)
        self.locale = locale
        ui_title = _localized(ui.get("title"), locale) if isinstance(ui, dict) else None
        if ui_title and ui_title[1] is None and (locale != "en" or not title):
            title = ui_title[0]
        self.title = title or str(schema.get("title") or "")
        # Worked out once per definition (they do not depend on the answers): the pages and
        # the choices with "Another country".
        self._all_pages: list[Page] | None = None
        self._split_from: list[Field] | None = None
        """The fields (for no answers) an automatic page split was made from."""
        self._listed_choices: tuple[ListedChoice, ...] | None = None
        self._field_labels: dict[str, str] | None = None
        self._title_counts: dict[str, int] | None = None

    # -- schema normalisation -------------------------------------------------------------

    def resolve(self, node: Any, depth: int = 0) -> dict[str, Any]:
        """Follow local ``$ref`` chains; an unresolvable one becomes an empty schema."""
        seen = 0
        while isinstance(node, dict) and "$ref" in node and seen < 16:
            ref = node["$ref"]
            target: Any = None
            if isinstance(ref, str) and ref.startswith("#"):
                try:
                    target = pointers.get(self.schema, ref[1:]) if ref != "#" else self.schema
                except ValueError:
                    target = None
            rest = {k: v for k, v in node.items() if k != "$ref"}
            node = {**(target if isinstance(target, dict) else {}), **rest}
            seen += 1
        return node if isinstance(node, dict) else {}

    def normalize(
        self, node: Any, _refs: frozenset[str] = frozenset()
    ) -> tuple[dict[str, Any], bool]:
        """Resolve refs and merge ``allOf``/``oneOf``/``anyOf`` into one schema; the flag says
        whether ``null`` is allowed. A ``$ref`` met again inside what it refers to (a schema
        that refers back to itself through its branches: valid, and accepted by the registry)
        adds nothing more (``_refs``: the references being followed); before, it recursed
        until Python's limit and the page was a 500."""
        ref = node.get("$ref") if isinstance(node, dict) else None
        if isinstance(ref, str):
            if ref in _refs:
                return {}, False
            _refs = _refs | {ref}
        node = self.resolve(node)
        merged = {k: v for k, v in node.items() if k not in ("allOf", "oneOf", "anyOf", "not")}
        nullable = False
        for sub in node.get("allOf", []) or []:
            part, sub_null = self.normalize(sub, _refs)
            merged = _merge(merged, part, base_wins=False)
            nullable = nullable or sub_null
        for key in ("oneOf", "anyOf"):
            variants, has_null = self._variants(node.get(key), _refs)
            nullable = nullable or has_null
            if variants:
                merged = _merge_variants(merged, variants)
        typ = merged.get("type")
        if isinstance(typ, list):
            nullable = nullable or "null" in typ
            rest = [t for t in typ if t != "null"]
            merged["type"] = rest[0] if rest else "null"
        if "type" not in merged:
            if "properties" in merged:
                merged["type"] = "object"
            elif "items" in merged:
                merged["type"] = "array"
            elif merged.get("enum"):
                merged["type"] = _json_type(merged["enum"][0])
        return merged, nullable

    def _variants(
        self, branches: Any, _refs: frozenset[str] = frozenset()
    ) -> tuple[list[dict[str, Any]], bool]:
        """A ``oneOf``/``anyOf``'s branches that are questions, normalized, and whether one of
        them allows ``null``."""
        variants: list[dict[str, Any]] = []
        nullable = False
        for branch in branches if isinstance(branches, list) else []:
            part, _ = self.normalize(branch, _refs)
            if part.get("type") == "null":
                nullable = True
                continue
            if set(part) <= {"required", "description", "title"}:
                continue  # a constraint ("one of these is required"), not a question
            variants.append(part)
        return variants, nullable

    def branch_splits(self, node: Any) -> list[BranchSplit]:
        """The object's ``oneOf``/``anyOf`` groups of object branches that a discriminator
        tells apart (``tellonce_shared.schema_branches.discriminator``), its own and those
        reached through its ``allOf`` parts (21-686C's dependents: one for
        ``previouslyMarried``, one for ``childHasNoSsn``): the questions that differ are
        then asked per branch (see :meth:`_build_object`). A group is split only when no
        other group's branches name any property its own branches name: one question's
        branch is then told by one discriminator. The other groups keep their merged
        questions."""
        groups = self._branch_groups(node, 0)
        own = self._own_properties(node, 0) if groups else {}
        splits = []
        for index, variants in enumerate(groups):
            found = schema_branches.discriminator(self.schema, variants)
            others = set().union(*(_named(g) for i, g in enumerate(groups) if i != index))
            if found is not None and not _named(variants) & others:
                splits.append(BranchSplit(found, variants, own))
        return splits

    def _branch_groups(self, node: Any, depth: int) -> list[list[dict[str, Any]]]:
        """The object branches (normalized) of each ``oneOf`` and ``anyOf`` of the object
        and, followed down, of its ``allOf`` parts; both apply to every answer."""
        resolved = self.resolve(node)
        out = []
        for key in ("oneOf", "anyOf"):
            variants, _ = self._variants(resolved.get(key))
            if variants:
                out.append(variants)
        parts = resolved.get("allOf")
        if depth < MAX_DEPTH and isinstance(parts, list):
            for part in parts:
                out.extend(self._branch_groups(part, depth + 1))
        return out

    def _own_properties(self, node: Any, depth: int) -> dict[str, Any]:
        """The properties an object has whichever branches its answers take: its own and
        those of its ``allOf`` parts (a later part's keywords on top, as :meth:`normalize`
        merges them)."""
        resolved = self.resolve(node)
        own = dict(_as_dict(resolved.get("properties")))
        parts = resolved.get("allOf")
        if depth < MAX_DEPTH and isinstance(parts, list):
            for part in parts:
                for name, sub in self._own_properties(part, depth + 1).items():
                    own[name] = {**_as_dict(own[name]), **_as_dict(sub)} if name in own else sub
        return own

    # -- fields ---------------------------------------------------------------------------

    def top_level(self) -> list[tuple[str, Any]]:
        root, _ = self.normalize(self.schema)
        props = root.get("properties") or {}
        return [(name, sub) for name, sub in props.items() if isinstance(sub, (dict, bool))]

    def field_for(self, pointer: str, answers: dict[str, Any]) -> Field | None:
        """The concrete field for a top-level (or deeper, schema-path) pointer."""
        found = self._schema_for(pointer)
        if found is None:
            return None
        node, name, required = found
        return self._build(node, pointer, name, required, answers, 0)

    def schema_at(self, pointer: str) -> Any | None:
        """The schema of the answer at ``pointer`` as the form writes it (``$ref`` left for
        a validator of the whole schema to resolve); None when no property leads there."""
        found = self._schema_for(pointer)
        return found[0] if found is not None else None

    def _schema_for(self, pointer: str) -> tuple[Any, str, bool] | None:
        """The schema of the answer at ``pointer``, its name and whether it is required."""
        parts = pointers.split(pointer)
        node: Any = self.schema
        required: list[str] = []
        for part in parts:
            norm, _ = self.normalize(node)
            if part.isdigit() and norm.get("type") == "array":
                node = norm.get("items") or {}
                required = []
                continue
            props = norm.get("properties") or {}
            if part not in props:
                return None
            required = list(norm.get("required") or [])
            node = props[part]
        name = parts[-1] if parts else ""
        return node, name, name in required

    def _build(
        self,
        node: Any,
        pointer: str,
        name: str,
        required: bool,
        answers: dict[str, Any],
        depth: int,
    ) -> Field | None:
        if depth > MAX_DEPTH or node is False or self.ui.omitted(pointer):
            return None
        norm, _nullable = self.normalize(node if isinstance(node, dict) else {})
        spec = self.ui.spec(pointer)
        label, label_lang = self._label(spec, norm, name)
        hint_text = _localized(spec.get("hint") or spec.get("help"), self.locale)
        hint = hint_text[0] if hint_text else str(norm.get("description") or "")
        if hint == label:
            hint = ""
        base: dict[str, Any] = {
            "pointer": pointer,
            "name": pointer,
            "label": label,
            "hint": hint,
            "required": required,
            "element": norm.get("x-element") if isinstance(norm.get("x-element"), str) else None,
            "condition": Condition.parse(spec.get("show_if")),
            "label_lang": label_lang,
        }
        typ = norm.get("type")
        widget = WIDGET_ALIASES.get(str(spec.get("widget")), spec.get("widget"))
        if typ == "object":
            children = self._build_object(node, norm, pointer, answers, depth)
            if not children:
                return None
            return Field(kind="group", children=children, **base)
        if typ == "array":
            return self._build_array(norm, base, spec, answers, depth)
        if typ in (None, "null"):
            return None
        options = self._options(norm, spec)
        kind: Kind
        if typ == "boolean":
            enum = norm.get("enum")
            kind = "checkbox" if enum == [True] or widget == "checkbox" else "yesno"
            return Field(kind=kind, **base)
        if options:
            if len(options) == 1 and "default" in norm and widget != "radios":
                kind = "hidden"
            elif widget == "radios":
                kind = "radios"
            elif widget == "select":
                kind = "select"
            else:
                kind = "radios" if len(options) <= 5 else "select"
            return Field(kind=kind, options=options, **base)
        if typ in ("integer", "number"):
            return Field(kind="integer" if typ == "integer" else "number", **base)
        kind = self._string_kind(norm, name, widget)
        max_length = norm.get("maxLength") if isinstance(norm.get("maxLength"), int) else None
        auto = AUTOCOMPLETE.get(name.lower()) if kind != "date" or "birth" in name.lower() else None
        if kind == "date" and auto != "bday":
            auto = None
        pattern = norm.get("pattern") if typ == "string" and kind != "date" else None
        if isinstance(pattern, str) and pattern:
            base.update(pattern=pattern, format_hint=hint)
        return Field(kind=kind, max_length=max_length, autocomplete=auto, **base)

    def _build_object(
        self, node: Any, norm: dict[str, Any], pointer: str, answers: dict[str, Any], depth: int
    ) -> list[Field]:
        """An object's questions. When a group of its branches has a discriminator, that
        question is asked once with every branch's values, and each property that differs
        between those branches is asked once per branch that has it, shown when the
        discriminator selects that branch."""
        props = norm.get("properties") or {}
        req = set(norm.get("required") or [])
        splits = [
            split
            for split in (self.branch_splits(node) if isinstance(node, dict) else [])
            # an omitted discriminator would reveal nothing: those questions stay merged
            if not self.ui.omitted(pointers.join(pointer, split.key.name))
        ]
        keys: dict[str, Field | None] = {}
        for split in splits:
            key_name = split.key.name
            key_pointer = pointers.join(pointer, key_name)
            keys[key_name] = self._key_field(split, key_pointer, key_name in req, answers, depth)
        children: list[Field] = []
        for child_name, child in props.items():
            child_pointer = pointers.join(pointer, child_name)
            varies_in = next((s for s in splits if s.varies(child_name)), None)
            if varies_in is not None and child_name not in keys:
                asked = self._branch_questions(
                    varies_in, keys[varies_in.key.name], pointer, child_name, req, answers, depth
                )
                if asked:
                    children.extend(asked)
                    continue
            if child_name in keys:
                built = keys[child_name]
            else:
                built = self._build(
                    child, child_pointer, child_name, child_name in req, answers, depth + 1
                )
            if built is not None:
                children.append(built)
        return _asked_before_its_branches(children)

    def _key_field(
        self,
        split: BranchSplit,
        pointer: str,
        required: bool,
        answers: dict[str, Any],
        depth: int,
    ) -> Field | None:
        """The discriminator, asked once: a choice of every branch's values, with "Another
        country" when a branch takes every other value; or, when those values are too many to
        offer, a text box saying how they are written."""
        schema = split.discriminator_schema()
        built = self._build(schema, pointer, split.key.name, required, answers, depth + 1)
        if built is None:
            return None
        built.switches = split.key.other is None
        if split.offers_other() and built.kind in ("radios", "select"):
            self._offer_other(built, split)
        else:
            built.hint = built.hint or self._typed_values_hint(split, built)
        return built

    def _offer_other(self, key_field: Field, split: BranchSplit) -> None:
        """Turn the discriminator's choice into one that also takes every other value: a
        country's options named in the page's language (unless the schema or the UI document
        names them), then "Another country" with its text box."""
        t = Translator(self.locale)
        country = _is_country(split)
        if country:
            key_field.options = [self._country_named(o) for o in key_field.options]
        aliases: dict[str, str] = {}
        for option in key_field.options:
            names = [option.html_value, option.label, *every_name(option.html_value)]
            for name in names:
                aliases.setdefault(folded(name), option.html_value)
        aliases.pop("", None)
        kind = "country" if country else "answer"
        key_field.other = OtherChoice(
            label=t(f"other_{kind}"),
            text_label=t(f"other_{kind}_text"),
            hint=t(f"other_{kind}_hint"),
            missing="enter_country" if country else "enter_other",
            aliases=aliases,
            autocomplete="country-name" if country else None,
        )

    def _country_named(self, option: Option) -> Option:
        if option.label != option.html_value:
            return option  # named by the schema's enumNames or the UI document
        name = country_name(option.html_value, self.locale)
        return Option(value=option.value, label=name) if name else option

    def _branch_questions(
        self,
        split: BranchSplit,
        key_field: Field | None,
        pointer: str,
        name: str,
        req: set[str],
        answers: dict[str, Any],
        depth: int,
    ) -> list[Field]:
        """One question per distinct way the branches that have ``name`` ask it, each shown
        for its branches' discriminator values (``key_field``, the discriminator's question,
        names them in the hints); none (the merged question is asked instead) when one of
        them is a group or a list, whose own inputs could not be told apart."""
        child_pointer = pointers.join(pointer, name)
        key_pointer = pointers.join(pointer, split.key.name)
        out: list[Field] = []
        for indexes, sub, required in split.questions(name):
            built = self._build(sub, child_pointer, name, required or name in req, answers,
                                depth + 1)  # fmt: skip
            if built is None:
                continue
            if built.is_container:
                return []
            condition = split.condition(indexes, key_pointer)
            built.variant = str(indexes[0])
            built.name = variant_name(child_pointer, built.variant)
            built.condition = condition
            when = self._branch_hint(condition, key_field)
            built.hint = f"{when}. {built.hint}" if built.hint else when
            out.append(built)
        return out

    def _branch_hint(self, condition: Condition, key_field: Field | None) -> str:
        """ "If country is USA": which branch a question is for, read without JavaScript."""
        t = Translator(self.locale)
        labels = {"true": t("yes"), "false": t("no")}
        labels.update({o.html_value: o.label for o in key_field.options} if key_field else {})
        shown = [labels.get(encode_value(v), encode_value(v)) for v in condition.values]
        question = lower_first(key_field.label) if key_field else ""
        return t(
            "branch_is_not" if condition.negate else "branch_is",
            question=question,
            values=_or_list(shown, t),
        )

    def _typed_values_hint(self, split: BranchSplit, key_field: Field) -> str:
        """A discriminator typed as text (one branch takes every other value) says how the
        listed values are written, since they reveal their own questions."""
        if key_field.options or split.key.other is None:
            return ""
        t = Translator(self.locale)
        shown = [encode_value(v) for v in split.key.listed()]
        return t("branch_typed", values=_or_list(shown, t))

    def _build_array(
        self,
        norm: dict[str, Any],
        base: dict[str, Any],
        spec: dict[str, Any],
        answers: dict[str, Any],
        depth: int,
    ) -> Field | None:
        items, _ = self.normalize(norm.get("items") or {})
        min_items = int(norm.get("minItems") or 0)
        max_items = norm.get("maxItems") if isinstance(norm.get("maxItems"), int) else None
        item_type = items.get("type")
        if item_type == "object":
            current = pointers.get(answers, base["pointer"])
            count = len(current) if isinstance(current, list) else 0
            item_label = _localized(spec.get("item_label"), self.locale)
            title = items.get("title")
            if not item_label and isinstance(title, str) and title.strip():
                item_label = (lower_first(title.strip()), None)
            children = []
            for index in range(count):
                built = self._build(
                    norm.get("items") or {}, pointers.join(base["pointer"], index), "", False,
                    answers, depth + 1,
                )  # fmt: skip
                if built is not None:
                    children.append(built)
            return Field(
                kind="repeat",
                children=children,
                min_items=min_items,
                max_items=max_items,
                item_label=item_label[0] if item_label else "",
                **base,
            )
        options = self._options(items, {})
        if options:
            return Field(kind="checkboxes", options=options, min_items=min_items, **base)
        if item_type in ("string", "integer", "number"):
            return Field(kind="lines", item_type=str(item_type), min_items=min_items, **base)
        return None

    def _label(
        self, spec: dict[str, Any], norm: dict[str, Any], name: str
    ) -> tuple[str, str | None]:
        found = _localized(spec.get("label"), self.locale)
        if found:
            return found
        if isinstance(norm.get("title"), str) and norm["title"].strip():
            return norm["title"], ("en" if self.locale != "en" else None)
        return humanize(name) if name else "", ("en" if self.locale != "en" else None)

    def _options(self, norm: dict[str, Any], spec: dict[str, Any]) -> list[Option]:
        enum = norm.get("enum")
        if not isinstance(enum, list) or not enum:
            return []
        names = norm.get("enumNames") if isinstance(norm.get("enumNames"), list) else None
        raw_labels = spec.get("options")
        ui_labels: dict[str, Any] = raw_labels if isinstance(raw_labels, dict) else {}
        out = []
        for i, value in enumerate(enum):
            ui_label = _localized(ui_labels.get(str(value)), self.locale)
            if ui_label:
                label = ui_label[0]
            elif names and i < len(names):
                label = str(names[i])
            elif value is True:
                label = "Yes"
            elif value is False:
                label = "No"
            else:
                label = str(value)
            out.append(Option(value=value, label=label))
        return out

    @staticmethod
    def _string_kind(norm: dict[str, Any], name: str, widget: Any) -> Kind:
        if widget in ("textarea", "text", "email", "tel", "url", "date", "hidden"):
            return widget  # type: ignore[no-any-return]
        fmt = norm.get("format")
        if asks_for_a_date(norm):
            return "date"
        if fmt == "date-time":
            return "datetime"
        if fmt == "email" or name.lower() in ("email", "emailaddress"):
            return "email"
        if fmt in ("uri", "url"):
            return "url"
        if "phone" in name.lower():
            return "tel"
        max_length = norm.get("maxLength")
        if isinstance(max_length, int) and max_length > LONG_TEXT:
            return "textarea"
        return "text"

    # -- pages ----------------------------------------------------------------------------

    def pages(self, answers: dict[str, Any]) -> list[Page]:
        """The pages to show, in order, skipping those whose condition is not met."""
        return [p for p in self.all_pages() if p.condition is None or p.condition.met(answers)]

    def all_pages(self) -> list[Page]:
        """Every page, whatever the answers (worked out once: an automatic page split builds
        the whole form)."""
        if self._all_pages is None:
            self._all_pages = self._ui_pages() or self._auto_pages()
        return list(self._all_pages)

    def names_page_alone(self, page: Page) -> bool:
        """Whether the page's title tells it apart: not the form's own title (a run of
        single questions, or a one-page form, is titled with it) and no other page's. A page
        that is not told apart gets its number in the document title (WCAG 2.4.2: ten pages
        of 10-10EZ were all titled with the form's name)."""
        if page.title == self.title:
            return False
        if self._title_counts is None:
            counts: dict[str, int] = {}
            for each in self.all_pages():
                counts[each.title] = counts.get(each.title, 0) + 1
            self._title_counts = counts
        return self._title_counts.get(page.title, 0) <= 1

    def _ui_pages(self) -> list[Page]:
        out: list[Page] = []
        for i, raw in enumerate(self.ui.pages):
            if not isinstance(raw, dict):
                continue
            title = _localized(raw.get("title"), self.locale)
            fields = [_as_pointer(p) for p in raw.get("fields") or [] if isinstance(p, str)]
            out.append(
                Page(
                    id=str(raw.get("id") or f"page-{i + 1}"),
                    title=title[0] if title else f"{self.title} ({i + 1})",
                    pointers=fields,
                    condition=Condition.parse(raw.get("show_if")),
                )
            )
        return out

    def _auto_pages(self) -> list[Page]:
        """One page per section (object or list) and short runs of single questions; a short
        form is one page."""
        tops: list[Field] = []
        total = 0
        for name, _sub in self.top_level():
            pointer = "/" + pointers.escape(name)
            if self.ui.omitted(pointer):
                continue
            built = self.field_for(pointer, {})
            if built is None:
                continue
            tops.extend(_split_big(built))
            total += max(1, _question_count(built))
        self._split_from = tops
        if not tops:
            return []
        if total <= SINGLE_PAGE_LEAVES:
            return [Page(id="page-1", title=self.title, pointers=[f.pointer for f in tops])]
        pages: list[Page] = []
        run: list[Field] = []

        def flush() -> None:
            if run:
                title = run[0].label if len(run) == 1 else self.title
                pages.append(
                    Page(
                        id=f"page-{len(pages) + 1}", title=title, pointers=[f.pointer for f in run]
                    )
                )
                run.clear()

        for built in tops:
            if built.is_container:
                flush()
                pages.append(
                    Page(id=f"page-{len(pages) + 1}", title=built.label, pointers=[built.pointer])
                )
            else:
                run.append(built)
                if len(run) >= AUTO_PAGE_SIZE:
                    flush()
        flush()
        return pages

    def page_fields(self, page: Page, answers: dict[str, Any]) -> list[Field]:
        out = []
        for pointer in page.pointers:
            built = self.field_for(pointer, answers)
            if built is not None:
                out.append(built)
        return out

    def fields(self, answers: dict[str, Any]) -> list[Field]:
        """Every field of the form's visible pages."""
        out: list[Field] = []
        for page in self.pages(answers):
            out.extend(self.page_fields(page, answers))
        return out

    def as_shown(self, answers: dict[str, Any]) -> dict[str, Any]:
        """The answers as the pages and check your answers show them: a saved answer naming a
        listed choice (a draft from before the country was a choice, holding "United
        States") as that choice (``USA``), so its questions (the US state list) are the ones
        asked and summed up. ``answers`` is not changed: a copy is returned when something
        is read differently, else ``answers`` itself.

        Cheap, as every request of a draft reads its answers through it: no field is built
        for the answers; only the choices with "Another country" (found once per
        definition, :meth:`listed_choices`) are looked up in them."""
        out = answers
        for choice in self.listed_choices():
            for pointer, current in choice.found_in(answers):
                option = listed_option(choice.field, current)
                if option is None:
                    continue
                if out is answers:
                    out = copy.deepcopy(answers)
                pointers.set_value(out, pointer, option.value)
        return out

    def listed_choices(self) -> tuple[ListedChoice, ...]:
        """Every choice with "Another country" the form asks, on any page and in any item of
        a list. Worked out once per definition, building only the parts of the form whose
        schema says ``not`` (:meth:`_may_offer_other`) for no answers, and one item of each
        list that may hold one (with an automatic page split, the fields it was made from):
        nothing at all for a form without such a choice (21-526EZ, 21-686C)."""
        if self._listed_choices is None:
            found: dict[tuple[str | None, ...], ListedChoice] = {}
            if self._may_offer_other(self.schema):
                for top in self._page_fields_that_may_offer_other():
                    self._find_listed_choices(top, frozenset(), found, 0)
            self._listed_choices = tuple(found.values())
        return self._listed_choices

    def _page_fields_that_may_offer_other(self) -> list[Field]:
        pages = self.all_pages()  # an automatic split keeps the fields it built
        if self._split_from is not None:
            return self._split_from  # built already, to split the pages
        return [
            built
            for page in pages
            for pointer in page.pointers
            if (built := self._built_if_it_may_offer_other(pointer)) is not None
        ]

    def _built_if_it_may_offer_other(self, pointer: str) -> Field | None:
        found = self._schema_for(pointer)
        if found is None or not self._may_offer_other(found[0]):
            return None
        node, name, required = found
        return self._build(node, pointer, name, required, {}, 0)

    def _find_listed_choices(
        self,
        top: Field,
        items: frozenset[int],
        found: dict[tuple[str | None, ...], ListedChoice],
        depth: int,
    ) -> None:
        """``items``: the positions in ``top``'s pointers that are a list's item index."""
        for f in top.walk():
            if f.other is not None:
                parts = pointers.split(f.pointer)
                path = tuple(None if i in items else part for i, part in enumerate(parts))
                found.setdefault(path, ListedChoice(path, f))
            elif f.kind == "repeat" and not f.children and depth < MAX_DEPTH:
                item = self._built_if_it_may_offer_other(pointers.join(f.pointer, 0))
                if item is not None:
                    index = len(pointers.split(f.pointer))
                    self._find_listed_choices(item, items | {index}, found, depth + 1)

    def _may_offer_other(self, node: Any) -> bool:
        """Whether ``node``, its local ``$ref``s followed, says ``not`` anywhere. "Another
        country" is offered for a branch that turns the listed values down (``{"not":
        {"enum": [...]}}``: ``schema_branches.discriminator``), so a part of the schema
        without one has no such choice, which is known without building its questions."""
        seen: set[int] = set()
        stack = [node]
        while stack:
            current = stack.pop()
            if isinstance(current, list):
                stack.extend(current)
                continue
            if not isinstance(current, dict) or id(current) in seen:
                continue
            seen.add(id(current))
            if "not" in current:
                return True
            ref = current.get("$ref")
            if isinstance(ref, str):
                stack.append(schema_branches.resolve(self.schema, {"$ref": ref}))
            stack.extend(v for v in current.values() if isinstance(v, (dict, list)))
        return False

    def field_labels(self) -> dict[str, str]:
        """Pointer (and element id) -> "Section: Question" for every question of the form;
        list items are named with ``*`` like the registry's flattened fields. Worked out once
        per definition (for no answers); each call gets its own copy."""
        if self._field_labels is None:
            out: dict[str, str] = {}
            for page in self.all_pages():
                for top in self.page_fields(page, {}):
                    self._collect_labels(top.pointer, top.label, out, 0)
            self._field_labels = out
        return dict(self._field_labels)

    def _collect_labels(self, pointer: str, label: str, out: dict[str, str], depth: int) -> None:
        built = self.field_for(pointer, {})
        if built is None or depth > 6:
            return
        out.setdefault(pointer, label)
        if built.element:
            out.setdefault(built.element, label)
        if built.kind == "group":
            for child in built.children:
                self._collect_labels(child.pointer, f"{label}: {child.label}", out, depth + 1)
        elif built.kind == "repeat":
            probe_answers: dict[str, Any] = {}
            pointers.set_value(probe_answers, pointer, [{}])
            probe = self.field_for(pointer, probe_answers)
            if probe is not None and probe.children:
                for child in probe.children[0].children:
                    sub = f"{pointer}/*/{child.pointer.rsplit('/', 1)[-1]}"
                    out.setdefault(sub, f"{label}: {child.label}")

    def drop_other_types(self, answers: dict[str, Any], under: list[str]) -> None:
        """Drop, in place, the answers under each of ``under`` (a page's pointers) to
        questions only branches the answers do not select ask: of an object's
        ``oneOf``/``anyOf`` whose branches all list the values of one property
        (:func:`~tellonce_portal.forms.validate.switch_of`, 21-686C's ``addressType``), the
        answered value selects the branches that list it; a property that only other
        branches name (not the object's own) is the other type's, and is dropped. So a
        military post office goes when the address is switched to domestic, instead of the
        answers fitting no branch (docs/portal.md, "Questions by country")."""
        for pointer in under:
            found = self._schema_for(pointer)
            value = pointers.get(answers, pointer)
            if found is not None and isinstance(value, (dict, list)):
                self._drop_other_types(found[0], value, 0)

    def _drop_other_types(self, node: Any, value: Any, depth: int) -> None:
        if depth > MAX_DEPTH:
            return
        norm, _ = self.normalize(node if isinstance(node, dict) else {})
        if isinstance(value, list):
            items = norm.get("items")
            for item in value:
                self._drop_other_types(items, item, depth + 1)
            return
        if not isinstance(value, dict) or not isinstance(node, dict):
            return
        own = set(self._own_properties(node, 0))
        for group in self._raw_branch_groups(node, 0):
            key = switch_of(self.schema, group)
            if key is None or key not in value:
                continue
            chosen = switched_to(self.schema, group, key, value[key])
            if not chosen:
                continue  # a value no branch lists: its own error says so
            named = [set(_as_dict(self.resolve(b).get("properties"))) for b in group]
            kept = own.union(*(named[i] for i in chosen))
            for name in set().union(*named) - kept:
                value.pop(name, None)
        props = _as_dict(norm.get("properties"))
        for name, sub in props.items():
            if name in value:
                self._drop_other_types(sub, value[name], depth + 1)

    def _raw_branch_groups(self, node: Any, depth: int) -> list[list[Any]]:
        """The ``oneOf``/``anyOf`` branch lists (as written) of the object and, followed
        down, of its ``allOf`` parts."""
        resolved = self.resolve(node)
        out = [resolved[k] for k in ("oneOf", "anyOf") if isinstance(resolved.get(k), list)]
        parts = resolved.get("allOf")
        if depth < MAX_DEPTH and isinstance(parts, list):
            for part in parts:
                out.extend(self._raw_branch_groups(part, depth + 1))
        return out

    def page_of(self, pointer: str, answers: dict[str, Any]) -> int | None:
        """Index of the visible page holding ``pointer`` (or its nearest ancestor)."""
        for index, page in enumerate(self.pages(answers)):
            for top in page.pointers:
                if pointers.is_within(pointer, top) or pointers.is_within(top, pointer):
                    return index
        return None


@dataclass(frozen=True)
class ListedChoice:
    """A choice with "Another country" (``field``) wherever the form asks it: ``path`` is its
    pointer's parts, None for each list item's index."""

    path: tuple[str | None, ...]
    field: Field

    def found_in(self, answers: Any) -> Iterator[tuple[str, Any]]:
        """Each answer to this choice in ``answers``, with its pointer."""
        return _answers_at(answers, self.path, "")


def _answers_at(node: Any, path: tuple[str | None, ...], at: str) -> Iterator[tuple[str, Any]]:
    if not path:
        yield at, node
        return
    part, rest = path[0], path[1:]
    if part is None:
        if isinstance(node, list):
            for index, item in enumerate(node):
                yield from _answers_at(item, rest, pointers.join(at, index))
    elif isinstance(node, dict) and part in node:
        yield from _answers_at(node[part], rest, pointers.join(at, part))


@dataclass(frozen=True)
class BranchSplit:
    """One ``oneOf``/``anyOf`` of an object (its own or an ``allOf`` part's) whose object
    branches are told apart by ``key``: ``branches`` normalized, ``own`` the object's own
    properties and its ``allOf`` parts' (which apply in every branch)."""

    key: schema_branches.Discriminator
    branches: list[dict[str, Any]]
    own: dict[str, Any]

    def _in_branch(self, index: int, name: str) -> Any:
        """``name``'s schema in one branch: the object's own with the branch's on top."""
        mine = (self.branches[index].get("properties") or {}).get(name)
        if mine is None:
            return self.own.get(name)
        if name in self.own:
            return {**_as_dict(self.own[name]), **_as_dict(mine)}
        return mine

    def _required(self, index: int, name: str) -> bool:
        return name in (self.branches[index].get("required") or [])

    def varies(self, name: str) -> bool:
        """Whether ``name`` is asked differently (or not at all) in some branch."""
        seen = {
            repr((self._in_branch(i, name), self._required(i, name)))
            for i in range(len(self.branches))
        }
        return len(seen) > 1

    def questions(self, name: str) -> list[tuple[tuple[int, ...], Any, bool]]:
        """(branch indexes, schema, required there) for ``name``: one item per distinct way
        the branches that have it ask it (CAN, MEX and USA asking the same postal code are
        one question), in schema order."""
        out: list[tuple[tuple[int, ...], Any, bool]] = []
        for index in range(len(self.branches)):
            sub = self._in_branch(index, name)
            if sub is None:
                continue
            required = self._required(index, name)
            same = next((i for i, q in enumerate(out) if (q[1], q[2]) == (sub, required)), None)
            if same is None:
                out.append(((index,), sub, required))
            else:
                indexes, _, _ = out[same]
                out[same] = ((*indexes, index), sub, required)
        return out

    def condition(self, indexes: tuple[int, ...], key_pointer: str) -> Condition:
        """When the question of these branches applies: the discriminator is one of their
        values, or (with the branch of every other value) none of the other branches'."""
        if self.key.other in indexes:
            others = tuple(
                v for i, values in enumerate(self.key.values) if i not in indexes for v in values
            )
            return Condition(key_pointer, others, negate=True)
        return Condition(key_pointer, tuple(v for i in indexes for v in self.key.values[i]))

    def offers_other(self) -> bool:
        """Whether a discriminator one branch of which takes every other value is still asked
        as a choice (the listed values and "Another country"): the listed values are few
        strings. More of them, or numbers, keep a text box."""
        listed = self.key.listed()
        return (
            self.key.other is not None
            and 0 < len(listed) <= MAX_CHOICES_WITH_OTHER
            and all(isinstance(v, str) and v.strip() and v != OTHER_CHOICE for v in listed)
        )

    def discriminator_schema(self) -> dict[str, Any]:
        """The discriminator asked once: its schema without the branch pins, offering every
        listed value in schema order (the "every other value" branch adds its choice, see
        :meth:`FormDefinition._offer_other`), or free text when that branch's question could
        not be a short choice (:meth:`offers_other`)."""
        merged: dict[str, Any] = {}
        names: list[Any] | None = []
        for index in range(len(self.branches)):
            sub = _as_dict(self._in_branch(index, self.key.name))
            merged = {**sub, **merged}
            if index == self.key.other or names is None:
                continue
            branch_names = sub.get("enumNames")
            fits = isinstance(branch_names, list) and len(branch_names) == len(
                sub.get("enum") or []
            )
            names = names + list(branch_names) if fits and branch_names else None
        out = {k: v for k, v in merged.items() if k not in ("const", "enum", "enumNames", "not")}
        if self.key.other is None or self.offers_other():
            out["enum"] = list(self.key.listed())
            if names:
                out["enumNames"] = names
        out.setdefault("type", _json_type(self.key.listed()[0]))
        return out


def _asked_before_its_branches(children: list[Field]) -> list[Field]:
    """Each discriminator moved up to just before the first question it reveals (a question
    shown by an answer further down the page would be missed)."""
    out = list(children)
    keys = dict.fromkeys(f.condition.pointer for f in children if f.variant and f.condition)
    for key_pointer in keys:
        first = next(i for i, f in enumerate(out) if _revealed_by(f, key_pointer))
        key = next((i for i, f in enumerate(out) if f.pointer == key_pointer), None)
        if key is not None and key > first:
            out.insert(first, out.pop(key))
    return out


def _revealed_by(f: Field, key_pointer: str) -> bool:
    return bool(f.variant) and f.condition is not None and f.condition.pointer == key_pointer


def _named(variants: list[dict[str, Any]]) -> set[str]:
    """The properties a group's branches say anything about (define or require)."""
    names: set[str] = set()
    for variant in variants:
        names.update(_as_dict(variant.get("properties")))
        required = variant.get("required")
        if isinstance(required, list):
            names.update(r for r in required if isinstance(r, str))
    return names


def _is_country(split: BranchSplit) -> bool:
    """A discriminator named like a country, or whose values are all known country codes."""
    name = folded(split.key.name)
    listed = split.key.listed()
    return "country" in name or "pais" in name or all(v in COUNTRY_NAMES for v in listed)


def _or_list(words: list[str], t: Translator) -> str:
    """ "USA, CAN or MEX" in the page's language."""
    if len(words) < 2:
        return "".join(words)
    return t("or_list", first=", ".join(words[:-1]), last=words[-1])


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return "string"


def _merge(base: dict[str, Any], other: dict[str, Any], *, base_wins: bool) -> dict[str, Any]:
    out = copy.copy(base)
    for key, value in other.items():
        if key == "properties" and isinstance(value, dict):
            props = dict(out.get("properties") or {})
            for name, sub in value.items():
                if name not in props or not base_wins:
                    props[name] = (
                        sub if name not in props else {**_as_dict(props[name]), **_as_dict(sub)}
                    )
            out["properties"] = props
        elif key == "required" and isinstance(value, list):
            out["required"] = sorted(set(out.get("required") or []) | set(value))
        elif key not in out or not base_wins:
            out[key] = value
    return out


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _merge_variants(base: dict[str, Any], variants: list[dict[str, Any]]) -> dict[str, Any]:
    """Merge alternative branches: properties are united (the base's own win), a property
    whose branches all have an ``enum`` gets their union, one that is free text in any
    branch stays free text; only what every branch requires is required."""
    out = copy.copy(base)
    props = dict(out.get("properties") or {})
    own = set(props)
    branch_props: dict[str, list[Any]] = {}
    requireds: list[set[str]] = []
    scalar_enums: list[Any] = []
    for variant in variants:
        for name, sub in (variant.get("properties") or {}).items():
            branch_props.setdefault(name, []).append(sub)
        requireds.append(set(variant.get("required") or []))
        if "properties" not in variant:
            for key, value in variant.items():
                if key == "enum" and isinstance(value, list):
                    scalar_enums.extend(v for v in value if v not in scalar_enums)
                elif key not in out and key != "required":
                    out[key] = value
    for name, subs in branch_props.items():
        if name in own:
            continue
        dicts = [s for s in subs if isinstance(s, dict)]
        merged: dict[str, Any] = {}
        for sub in dicts:
            merged = {**sub, **merged} if merged else dict(sub)
        if dicts and all(isinstance(s.get("enum"), list) for s in dicts) and len(dicts) > 1:
            values: list[Any] = []
            for sub in dicts:
                values.extend(v for v in sub["enum"] if v not in values)
            merged["enum"] = values
            merged.pop("enumNames", None)
        elif len(dicts) > 1 and any("enum" not in s and "$ref" not in s for s in dicts):
            merged.pop("enum", None)
            merged.pop("enumNames", None)
        props[name] = merged
    if props:
        out["properties"] = props
        if "type" not in out:
            out["type"] = "object"
    if scalar_enums and "properties" not in out:
        out["enum"] = scalar_enums
    if requireds:
        common = set.intersection(*requireds)
        out["required"] = sorted(set(out.get("required") or []) | common)
    return out


def _split_big(section: Field) -> list[Field]:
    """A section too long for one page (a form whose answers all sit under one object) is
    split into its own sub-sections."""
    if section.kind == "group" and _question_count(section) > 2 * SINGLE_PAGE_LEAVES:
        out: list[Field] = []
        for child in section.children:
            out.extend(_split_big(child))
        return out
    return [section]


def _question_count(section: Field) -> int:
    """The answers a section asks for: an answer asked once per ``oneOf`` branch counts once,
    as only one of its questions shows."""
    return len({f.pointer for f in section.leaves()})
