"""The portal's own words in English and Spanish. Form questions come from the UI document's
locales; these are the words around them."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from datetime import date as calendar_date
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tellonce_shared.words import day_in_words

log = logging.getLogger("tellonce.portal")

LOCALES = ("en", "es")

STATE_ZONE = "America/New_York"
"""The state's time zone: dates and times shown are in it ("Eastern Time")."""


@lru_cache(maxsize=1)
def state_zone() -> ZoneInfo | None:
    """The state's zone (the pinned ``tzdata`` provides it where the system has no time zone
    database); None, with a warning, if neither has it: then UTC is shown."""
    try:
        return ZoneInfo(STATE_ZONE)
    except ZoneInfoNotFoundError:
        log.warning("time zone %s not found: times are shown in UTC", STATE_ZONE)
        return None


def utc_instant(value: str) -> datetime | None:
    """An ISO timestamp or date (``Z``, an offset, or none: read as UTC) as an aware instant
    in UTC; None for what does not parse."""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def in_state_time(value: str) -> datetime | None:
    """An ISO timestamp (``Z``, an offset, or none: read as UTC) in the state's time; None for
    a bare date or what does not parse."""
    moment = utc_instant(value) if "T" in value else None
    if moment is None:
        return None
    zone = state_zone()
    return moment.astimezone(zone) if zone is not None else moment


STRINGS: dict[str, dict[str, str]] = {
    "en": {
        "service_name": "Tell-Once Forms Hub",
        "skip": "Skip to main content",
        "official": "An official website of the State",
        "language_other": "Español",
        "sign_in": "Sign in",
        "sign_out": "Sign out",
        "sign_up": "Create an account",
        "email": "Email address",
        "password": "Password",
        "password_hint": "At least 15 characters. A short sentence you will remember works well.",
        "full_name": "Full name",
        "no_account": "No account yet?",
        "have_account": "Already have an account?",
        "optional": "optional",
        "branch_is": "If {question} is {values}",
        "branch_is_not": "If {question} is not {values}",
        "branch_typed": "For {values}, write it exactly like that",
        "or_list": "{first} or {last}",
        "other_country": "Another country",
        "other_country_text": "Country name",
        "other_country_hint": "If you chose another country",
        "other_answer": "Something else",
        "other_answer_text": "Your answer",
        "other_answer_hint": "If you chose something else",
        "prefilled": "From your profile: check it is still right",
        "prefilled_account": "From your account: check it is right",
        "error": "Error",
        "yes": "Yes",
        "no": "No",
        "select_option": "Select an option",
        "one_per_line": "Write one per line.",
        "none_added": "You have not added any {item} yet.",
        "item_n": "{item} {n}",
        "remove_item": "Remove {item} {n}",
        "add_first": "Add a {item}",
        "add_another": "Add another {item}",
        "there_is_a_problem": "There is a problem",
        "continue": "Continue",
        "save_later": "Save and come back later",
        "back": "Back",
        "catalog": "Find a form",
        "catalog_intro": "Apply to state programs. Tell us once: answers you have already given "
        "can fill in your next form.",
        "search": "Search forms",
        "search_label": "Search by name or topic",
        "agency": "Agency",
        "all_agencies": "All agencies",
        "minutes": "About {n} minutes",
        "no_forms": "No forms match your search.",
        "bad_search": "Check your search: it has a character that cannot be searched for, "
        "like a control character. Use letters, numbers and spaces.",
        "start_now": "Start now",
        "who_receives": "Who will receive your answers",
        "receives_all": "All your answers on this form (it owns the form)",
        "purpose": "Purpose",
        "legal_basis": "Legal basis",
        "no_agreements": "Only {agency}, which owns this form, receives your answers.",
        "prefill_choice": "Fill in answers I have already given",
        "prefill_hint": "You can change any of them. Answers from earlier forms are only used "
        "if you agreed we could keep them.",
        "prefill_from_account": "From your account: {items}.",
        "prefill_from_profile": "From the answers kept in your profile: {items}.",
        "prefill_profile_off": "Answers from earlier forms are not filled in: keeping your "
        'answers is turned off. To have them filled in next time, tick "Save my answers" '
        "before you send this form, or turn keeping on in your profile.",
        "prefill_profile_empty": "No answers from earlier forms are kept yet. The answers of "
        "the next form you send will be kept.",
        "prefill_profile_elsewhere": "None of the answers kept in your profile is asked on "
        "this form.",
        "prefill_none_elsewhere": "Nothing can be filled in for you on this form: none of the "
        "answers kept in your profile is asked on it.",
        "prefill_none_off": "Nothing can be filled in for you: keeping your answers is turned "
        'off. To have your next forms filled in, tick "Save my answers" before you send this '
        "one, or turn keeping on in your profile.",
        "prefill_none_empty": "Nothing can be filled in for you yet: no answers are kept. The "
        "answers of the next form you send will be kept.",
        "prefill_none_profile": "Go to your profile",
        "keep_on_send": "Save my answers to fill in other forms for me",
        "keep_on_send_hint": "You can see, change or remove them in your profile at any time. "
        "If you leave this unticked, your answers only go to the agencies listed above.",
        "draft_exists_heading": "You have already started this form",
        "draft_saved_at": "Last saved {when}.",
        "draft_saved_short": "last saved {when}",
        "draft_reached": "Answered up to page {n} of {total}.",
        "draft_not_started": "No answers yet.",
        "draft_continue": "Continue your application",
        "start_again": "Start again",
        "start_again_hint": "Starting again makes a new application. The one you saved stays "
        "in My applications.",
        "draft_already_sent": "This application has already been sent: here is where it is.",
        "draft_gone_title": "This application is no longer saved",
        "draft_gone": "It has been sent, or it was deleted. The applications you sent are "
        "listed in My applications.",
        "page_n_of": "Page {n} of {total}",
        "check_answers": "Check your answers before sending your application",
        "change": "Change",
        "not_answered": "Not answered",
        "submit": "Accept and send",
        "declaration": "By sending this application you confirm that, to the best of your "
        "knowledge, the details you are providing are correct.",
        "confirmation": "Application complete",
        "reference": "Your reference number",
        "reference_number": "Reference number",
        "receipt": "Download your receipt (PDF)",
        "what_next": "What happens next",
        "what_next_body": "Each agency below will receive only the answers it needs; the "
        "status shows where each one is. You can follow their progress in My applications.",
        "needs_info_heading": "{agency} needs more information from you",
        "needs_info_how": "You cannot answer through this service: contact {agency} directly "
        "and give your reference number, {reference}.",
        "needs_info_read": "Read the message from {agency}",
        "time_in_state": "{date} at {time} Eastern Time",
        "time_am": "a.m.",
        "time_pm": "p.m.",
        "my_applications": "My applications",
        "no_applications": "You have not sent any applications yet.",
        "drafts": "Saved applications",
        "resume": "Continue this application",
        "timeline": "Progress",
        "submitted": "Sent",
        "status": "Status",
        "message": "Message",
        "profile": "Your profile",
        "profile_intro": "These are the answers we keep so that you do not have to give them "
        "again.",
        "consent_keep": "Keep my answers so they can fill in my next forms",
        "consent_save": "Save my choice",
        "erase": "Erase everything you keep about me",
        "erase_warning": "This erases the answers kept for prefill. It cannot be undone. "
        "Applications you already sent are not affected.",
        "erased": "Your kept answers have been erased, and keeping your answers is turned off.",
        "consent_saved": "Your choice has been saved.",
        "profile_change_title": "Change your answer: {label}",
        "profile_change_intro": "We use this answer to fill in your next forms. Applications "
        "you already sent keep the answer you gave on them.",
        "profile_masked_hint": "Your kept answer is hidden because it is sensitive. Enter it "
        "again to change it.",
        "profile_save_value": "Save this answer",
        "profile_remove_heading": "Remove this answer instead",
        "profile_remove_intro": "If you remove it, your next forms will not be filled in with "
        "it. You can give it again on your next form.",
        "profile_remove_value": "Remove this answer",
        "profile_cannot_change": "This answer cannot be changed here. You can remove it and "
        "give it again on your next form.",
        "profile_value_saved": "Your answer for {label} has been saved.",
        "profile_value_removed": "Your answer for {label} has been removed.",
        "profile_no_consent": "Your answer was not saved because keeping your answers is "
        "turned off. Choose to keep your answers, save your choice, then change the answer "
        "again.",
        "erase_confirm_title": "Are you sure you want to erase everything we keep about you?",
        "erase_confirm_list": "This erases:",
        "erase_confirm_values": "every answer we keep to fill in your next forms",
        "erase_confirm_consent": "your choice to keep your answers: keeping them is turned "
        "off until you turn it on again",
        "erase_confirm_warning": "You cannot undo this.",
        "erase_confirm_not": "Applications you already sent are not affected: the agencies "
        "keep them, and you can still follow them here. Applications you saved but have not "
        "sent keep the answers in them.",
        "erase_confirm_button": "Yes, erase everything",
        "warning": "Warning",
        "cancel": "Cancel",
        "inbox": "Inbox",
        "inbox_intro": "Applications delivered to {agency}. You see only the answers your "
        "agency's agreement allows.",
        "no_deliveries": "Nothing has been delivered to your agency yet.",
        "post_status": "Update the status",
        "send_update": "Send update",
        "audit": "Redundancy audit",
        "home": "Home",
        "not_found": "Page not found",
        "not_found_body": "If you typed the web address, check it is correct.",
        "server_error": "Sorry, there is a problem with the service",
        "server_error_body": "Try again later. Your saved answers have not been lost.",
        "forbidden": "You cannot see this page",
        "forbidden_body": "This page is for another kind of account.",
        "expired": "This page has expired",
        "expired_body": "For your security, go back, reload the page and try again.",
        "unavailable": "A service this page needs is not answering. Try again in a minute.",
        "signed_out_needed": "Sign in to continue.",
        "signed_out_get": "You were signed out. Sign in again to go back to the page you were on.",
        "signed_out_post": "You were signed out, so your answers on that page were not saved. "
        "Sign in again to go back to the page, then enter them again.",
        "invalid_credentials": "Enter a correct email address and password",
        "enter_email": "Enter your email address",
        "enter_password": "Enter your password",
        "enter_full_name": "Enter your full name",
        "saved": "Your answers have been saved. You can come back to them from My applications.",
        "systems": "Webhooks and failed deliveries",
        "endpoints": "Your webhook endpoints",
        "no_endpoints": "No endpoint yet: your agency reads the pull feed.",
        "endpoint_url": "Receiver address (URL)",
        "add_endpoint": "Add endpoint",
        "secret_once": "Copy this signing secret now: it is shown only once.",
        "rotate": "Rotate secret",
        "delete": "Delete",
        "dead_letters": "Failed deliveries",
        "no_dead": "No failed deliveries.",
        "replay": "Deliver again",
        "replay_all": "Deliver all again",
        "replayed": "{n} deliveries queued again.",
        "replayed_one": "1 delivery queued again.",
        "share_erased": "The answers were erased on {date} under the retention rule "
        "for delivered copies. The submission itself remains the record.",
        "share_erased_undated": "The answers were erased under the retention rule "
        "for delivered copies. The submission itself remains the record.",
        "not_replayed": "This delivery cannot be delivered again.",
        "inbox_erased": "Answers erased on {date} under the retention rule",
        "confirmed_counts": "Confirmed as {element}. Mapped {n} fields; left out {m}.",
        "split_off": "{n} fields moved to a cluster of their own.",
        "rejected_fields": "{n} fields taken out of this cluster.",
        "nav_main": "Main",
        "nav_referrals": "Programs for you",
        "nav_performance": "Performance",
        "nav_admin": "Catalog admin",
        "form": "Form",
        "forms": "Forms",
        "fields": "Fields",
        "title": "Title",
        "description": "Description",
        "agencies": "Agencies",
        "actions": "Actions",
        "all": "All",
        "download": "Download",
        "answers": "Answers",
        "topic": "Topic",
        "all_topics": "All topics",
        "enter_whole_number": "Enter a whole number",
        "demo_accounts": "Demo accounts (local mode only)",
        "demo_password": "Password for all",
        "role_resident": "resident",
        "role_agency": "agency staff",
        "role_auditor": "auditor (OPM)",
        "role_admin": "administrator",
        "see_referrals": "See other programs you may be eligible for",
        "status_sent": "Status sent.",
        "select_status": "Select a status",
        "say_what_info": "Say what information you need",
        "say_why_reopen": "Say why you are reopening the decision",
        "csv_forms": "hours by form",
        "csv_clusters": "hours by fact",
        "csv_pairs": "forms that overlap",
        "csv_fields": "every field",
        "audit_assumptions": "How the hours are worked out: burden hours are a form's minutes "
        "to complete times its responses a year, divided by 60 (Paperwork Reduction Act); a "
        "field's share is the form's minutes shared evenly over its fields. For the hours "
        "saved we assume {share}% of a form's filers have already given a fact on another "
        "form, and that checking a prefilled answer still takes {review}% of the time to type "
        "it.",
        "sent_on": "Sent on {date}.",
        "decision_final": "The decision on this application is “{status}” ({date}). A "
        "decision is final: to change it, tick “Reopen the decision” and say why in "
        "the message.",
        "decision_final_undated": "This application has been decided. A decision is final: to "
        "change it, tick “Reopen the decision” and say why in the message.",
        "reopen_decision": "Reopen the decision",
        "reopen_hint": "Only the agency that owns the form can reopen its decision. The "
        "resident sees the new status and your message.",
        "status_not_posted": "The status could not be posted",
        "no_such_delivery": "No delivery {id} for your agency.",
        "endpoint_address": "Address",
        "endpoint_active": "Active",
        "endpoint_disabled": "Disabled",
        "attempts": "Attempts",
        "last_error": "Last error",
        "enter_endpoint_url": "Enter the address of your receiver, like https://...",
        "too_long": "{field} must be {n} characters or fewer",
        "bad_request": "There is a problem with what was sent",
        "bad_request_body": "Part of it could not be read. Go back, check it and try again.",
        "previous_page": "Previous",
        "next_page": "Next",
        "newest_first": "Newest first.",
        "inbox_pages": "Pages of the inbox",
        "newer_deliveries": "Newer applications",
        "older_deliveries": "Older applications",
        "dead_letter_pages": "Pages of failed deliveries",
        "newer_dead_letters": "Newer failed deliveries",
        "older_dead_letters": "Older failed deliveries",
        "confirm_note": "Note",
        "check_endpoint_url": "Check the address",
        "admin_title": "Catalog administration",
        "agency_code": "Code",
        "agency_name": "Name",
        "add_agency": "Add agency",
        "slug": "Slug",
        "slug_hint": "Lower-case letters, digits and dashes, e.g. dss-snap-application",
        "published_version": "Published version",
        "new_form": "New form",
        "minutes_to_complete": "Minutes to complete",
        "yearly_volume": "Responses a year",
        "create_form": "Create form",
        "agreements": "Agreements",
        "new_agreement": "New agreement",
        "receiving_agency": "Receiving agency",
        "fields_hint": "One per line: a JSON pointer (/address/city) or a data element id "
        "(person.birthDate).",
        "create_agreement": "Create agreement",
        "registry_refused": "The forms registry refused it ({status}).",
        "unknown_action": "Unknown action",
        "version_saved": "Version {version} saved as {status} ({fields} fields).",
        "breaking_notice": "This is a breaking change for the agencies that use the form.",
        "not_breaking": "Not a breaking change.",
        "changes_heading": "Changes from the published version",
        "breaking_tag": "breaking",
        "warnings": "Warnings",
        "versions": "Versions",
        "version": "Version",
        "version_n": "version {n}",
        "breaking": "Breaking",
        "created_on": "Created",
        "published_on": "Published",
        "version_state_draft": "Draft",
        "version_state_published": "Published",
        "version_state_retired": "Retired",
        "publish": "Publish",
        "retire": "Retire",
        "import_version": "Import a new version",
        "schema_file": "JSON Schema file",
        "schema_file_hint": "Draft-04, -06, -07, 2019-09 or 2020-12.",
        "ui_file": "UI document",
        "import_draft": "Import as a draft version",
        "choose_schema_file": "Choose a JSON Schema file",
        "schema_too_large": "The schema file is larger than {kb} kB",
        "schema_not_json": "The schema file is not valid JSON",
        "ui_too_large": "The UI document file is larger than {kb} kB",
        "ui_not_json": "The UI document file is not valid JSON",
        "burden": "Burden",
        "burden_hours_year": "Burden hours a year",
        "prefill_hours_saved": "Hours a tell-once prefill saves",
        "burden_by_form": "Burden hours and hours saved, by form",
        "burden_hours": "Burden hours",
        "hours_saved": "Hours saved",
        "suggested_element": "Suggested element",
        "cluster_gone": (
            "The audit no longer lists this group of fields. A field leaves its group when it"
            " is confirmed as a data element, split off or rejected, and a group whose fields"
            " are all on one form is not listed. The groups it lists now are below."
        ),
        "cluster_fields": "Fields in this cluster",
        "split_col": "Split off",
        "field": "Field",
        "type": "Type",
        "new_cluster_name": "Name of the new cluster",
        "split_ticked": "Split off the ticked fields",
        "reject_ticked": "Reject the ticked fields",
        "tick_fields": "Fields to split off, reject or confirm",
        "tick_fields_hint": "Tick the fields, then split them off into a cluster of their own, "
        "reject them if they do not hold this fact, or confirm them as the data element below.",
        "whose_col": "Whose answer",
        "whole_maps_col": 'Mapped by "Confirm the cluster"',
        "whose_own": "The person applying",
        "whose_veteran": "The veteran",
        "whose_spouse": "Spouse",
        "whose_child": "Child",
        "whose_dependent": "Dependent",
        "whose_parent": "Parent",
        "whose_mother": "Mother",
        "whose_father": "Father",
        "whose_guardian": "Guardian",
        "whose_caregiver": "Caregiver",
        "whose_contact": "Contact",
        "whose_preparer": "Person preparing the form",
        "whose_representative": "Representative",
        "whose_deceased": "The deceased",
        "whose_survivor": "Survivor",
        "whose_sponsor": "Sponsor",
        "whose_student": "Student",
        "whose_beneficiary": "Beneficiary",
        "whose_employer": "Employer",
        "whose_school": "School",
        "data_element": "Data element",
        "confirm_hint": '"Confirm the cluster" maps only the fields that are the resident\'s own '
        'answers ("The person applying") to this element, which feeds prefill. "Confirm the '
        'ticked fields" maps exactly the fields you ticked, whoever they are about.',
        "confirm_cluster": "Confirm the cluster",
        "confirm_ticked": "Confirm the ticked fields",
        "left_out_title": "Fields left out",
        "left_out_intro": "The confirmation did not map these fields: they are not the "
        "resident's own answers, so prefill would fill them with the wrong person's answer. To "
        'map one anyway, tick it in the table below and choose "Confirm the ticked fields".',
        "left_out_caption": "Fields the confirmation left out",
        "reason": "Why",
        "facts_repeated": "Facts asked for more than once",
        "clusters_by_forms": "Clusters by number of forms",
        "fact": "Fact",
        "overlap_most": "Forms that overlap most",
        "form_pairs": "Pairs of forms",
        "facts_shared": "Facts shared",
        "perf_heading": "Service performance",
        "period": "Period",
        "period_hint": "For example 2026, 2026-Q2, 2026-05 or last-90d (the last 90 days)",
        "group_by": "Group by",
        "priority": "Priority",
        "show": "Show",
        "priority_jobs-economy": "Jobs and the economy",
        "priority_child-family": "Children and families",
        "priority_transportation": "Transportation",
        "priority_community-vitality": "Community vitality",
        "perf_range": "From {start} to {end}.",
        "perf_min_cell": "Groups with fewer than {n} applications show no figures (—).",
        "measures_by_group": "Measures by group",
        "group": "Group",
        "applications": "Applications",
        "first_response": "First response (median days)",
        "decision_days": "Decision: median / p90 (days)",
        "needs_info_share": "Needs info",
        "open": "Open",
        "digital_uptake": "Digital uptake",
        "target": "Target",
        "weekly_trend": "Weekly trend",
        "fewer_than": "fewer than {n}",
        "rag_green": "green",
        "rag_amber": "amber",
        "rag_red": "red",
        "per_week": "Applications per week",
        "trend_legend": "Blue line: applications per week; dashed: median days to decision.",
        "backlog_heading": "Open applications by status and age",
        "age": "Age",
        "age_0-7d": "0 to 7 days",
        "age_8-30d": "8 to 30 days",
        "age_31-90d": "31 to 90 days",
        "age_90d+": "more than 90 days",
        "referrals_heading": "Referrals across programs",
        "funnel_caption": "Suggested → started → submitted (counts only)",
        "from": "From",
        "to": "To",
        "funnel": "Funnel",
        "stage_suggested": "suggested",
        "stage_started": "started",
        "stage_submitted": "submitted",
        "no_referrals_period": "No referrals in this period.",
        "bad_period": "Use YYYY, YYYY-Qn, YYYY-MM or last-Nd",
        "bad_priority": "Choose one of the four priorities",
        "measures_failed": "The measures could not be computed",
        "referrals_failed": "The referral figures could not be read for this period.",
        "needs_postgresql_heading": "Performance measures need the PostgreSQL deployment",
        "needs_postgresql_body": "This copy of the service runs on SQLite, as the demo started "
        "by make run does. The measures and the referral figures are computed by the database, "
        "and only PostgreSQL, the database the service runs on in production, can compute "
        "them.",
        "needs_postgresql_how": "To see them here, create a PostgreSQL database and start the "
        "demo with the submissions service on it:",
        "needs_postgresql_referrals": "Referral figures need the PostgreSQL deployment too.",
        "referrals_title": "Programs you may be eligible for",
        "referral_sent": "You have sent it.",
        "referral_start": "Start it with my answers filled in",
        "no_referrals": "No suggestions for now.",
        "enter_element": "Enter the data element id",
        "check_element": "Check the element",
        "select_split_fields": "Select the fields to split off",
        "select_reject_fields": "Select the fields to reject",
        "select_confirm_fields": "Select the fields to confirm",
        "none_own": "Nothing was confirmed: none of the cluster's {n} fields is the resident's "
        'own answer. Tick the fields to map and choose "Confirm the ticked fields".',
        "check_fields": "Check the fields",
        "account_created": "Your account has been created and you are signed in.",
        "account_created_sign_in": "Your account has been created. Sign in to continue.",
        "account_exists": "An account with this email address already exists",
        "check_details": "Check your details",
        "add_first_an": "Add an {item}",
        "list_none_added": "Nothing added yet.",
        "list_item_n": "Entry {n}",
        "list_remove_item": "Remove entry {n} from “{group}”",
        "list_add_first": "Add an entry to “{group}”",
        "list_add_another": "Add another entry to “{group}”",
    },
    "es": {
        "service_name": "Centro de Formularios Una Sola Vez",
        "skip": "Saltar al contenido principal",
        "official": "Un sitio web oficial del Estado",
        "language_other": "English",
        "sign_in": "Iniciar sesión",
        "sign_out": "Cerrar sesión",
        "sign_up": "Crear una cuenta",
        "email": "Correo electrónico",
        "password": "Contraseña",
        "password_hint": "Al menos 15 caracteres. Una frase corta que recuerde funciona bien.",
        "full_name": "Nombre completo",
        "no_account": "¿Todavía no tiene una cuenta?",
        "have_account": "¿Ya tiene una cuenta?",
        "optional": "opcional",
        "branch_is": "Si {question} es {values}",
        "branch_is_not": "Si {question} no es {values}",
        "branch_typed": "Para {values}, escríbalo exactamente así",
        "or_list": "{first} o {last}",
        "other_country": "Otro país",
        "other_country_text": "Nombre del país",
        "other_country_hint": "Si eligió otro país",
        "other_answer": "Otra respuesta",
        "other_answer_text": "Su respuesta",
        "other_answer_hint": "Si eligió otra respuesta",
        "prefilled": "De su perfil: compruebe que sigue siendo correcto",
        "prefilled_account": "De su cuenta: compruebe que es correcto",
        "error": "Error",
        "yes": "Sí",
        "no": "No",
        "select_option": "Seleccione una opción",
        "one_per_line": "Escriba uno por línea.",
        "none_added": "Aún no ha agregado ningún elemento ({item}).",
        "item_n": "{item} {n}",
        "remove_item": "Quitar {item} {n}",
        "add_first": "Agregar {item}",
        "add_another": "Agregar {item} adicional",
        "there_is_a_problem": "Hay un problema",
        "continue": "Continuar",
        "save_later": "Guardar y volver más tarde",
        "back": "Atrás",
        "catalog": "Buscar un formulario",
        "catalog_intro": "Solicite programas del Estado. Díganos una sola vez: las respuestas "
        "que ya dio pueden llenar su próximo formulario.",
        "search": "Buscar formularios",
        "search_label": "Buscar por nombre o tema",
        "agency": "Agencia",
        "all_agencies": "Todas las agencias",
        "minutes": "Unos {n} minutos",
        "bad_search": "Revise su búsqueda: tiene un carácter que no se puede buscar, como un "
        "carácter de control. Use letras, números y espacios.",
        "no_forms": "Ningún formulario coincide con su búsqueda.",
        "start_now": "Comenzar ahora",
        "who_receives": "Quién recibirá sus respuestas",
        "receives_all": "Todas sus respuestas de este formulario (es el dueño del formulario)",
        "purpose": "Propósito",
        "legal_basis": "Base legal",
        "no_agreements": "Solo {agency}, dueña de este formulario, recibe sus respuestas.",
        "prefill_choice": "Llenar con respuestas que ya di",
        "prefill_hint": "Puede cambiar cualquiera de ellas. Las respuestas de formularios "
        "anteriores solo se usan si usted aceptó que las guardáramos.",
        "prefill_from_account": "De su cuenta: {items}.",
        "prefill_from_profile": "De las respuestas guardadas en su perfil: {items}.",
        "prefill_profile_off": "No se llenan respuestas de formularios anteriores: guardar sus "
        'respuestas está desactivado. Para que se llenen la próxima vez, marque "Guardar mis '
        'respuestas" antes de enviar este formulario, o active esta opción en su perfil.',
        "prefill_profile_empty": "Todavía no hay respuestas guardadas de formularios "
        "anteriores. Se guardarán las respuestas del próximo formulario que envíe.",
        "prefill_profile_elsewhere": "Ninguna de las respuestas guardadas en su perfil se "
        "pregunta en este formulario.",
        "prefill_none_elsewhere": "No se puede llenar nada por usted en este formulario: "
        "ninguna de las respuestas guardadas en su perfil se pregunta en él.",
        "prefill_none_off": "No se puede llenar nada por usted: guardar sus respuestas está "
        'desactivado. Para que sus próximos formularios se llenen, marque "Guardar mis '
        'respuestas" antes de enviar este, o active esta opción en su perfil.',
        "prefill_none_empty": "Todavía no se puede llenar nada por usted: no hay respuestas "
        "guardadas. Se guardarán las respuestas del próximo formulario que envíe.",
        "prefill_none_profile": "Ir a su perfil",
        "keep_on_send": "Guardar mis respuestas para llenar otros formularios por mí",
        "keep_on_send_hint": "Puede verlas, cambiarlas o eliminarlas en su perfil en cualquier "
        "momento. Si no marca esta casilla, sus respuestas solo van a las agencias de arriba.",
        "draft_exists_heading": "Ya comenzó este formulario",
        "draft_saved_at": "Guardada por última vez el {when}.",
        "draft_saved_short": "guardada por última vez el {when}",
        "draft_reached": "Respondida hasta la página {n} de {total}.",
        "draft_not_started": "Todavía sin respuestas.",
        "draft_continue": "Continuar su solicitud",
        "start_again": "Comenzar de nuevo",
        "start_again_hint": "Comenzar de nuevo crea una solicitud nueva. La que guardó sigue "
        "en Mis solicitudes.",
        "draft_already_sent": "Esta solicitud ya se envió: aquí puede ver en qué estado está.",
        "draft_gone_title": "Esta solicitud ya no está guardada",
        "draft_gone": "Se envió o se eliminó. Las solicitudes que envió aparecen en Mis "
        "solicitudes.",
        "page_n_of": "Página {n} de {total}",
        "check_answers": "Revise sus respuestas antes de enviar su solicitud",
        "change": "Cambiar",
        "not_answered": "Sin respuesta",
        "submit": "Aceptar y enviar",
        "declaration": "Al enviar esta solicitud confirma que, según su leal saber y entender, "
        "los datos que proporciona son correctos.",
        "confirmation": "Solicitud completada",
        "reference": "Su número de referencia",
        "reference_number": "Número de referencia",
        "receipt": "Descargar su comprobante (PDF)",
        "what_next": "Qué sucede ahora",
        "what_next_body": "Cada agencia de abajo recibirá solo las respuestas que necesita; "
        "el estado muestra en qué punto está cada una. Puede seguir su progreso en Mis "
        "solicitudes.",
        "needs_info_heading": "{agency} necesita más información de usted",
        "needs_info_how": "No puede responder por este servicio: comuníquese directamente con "
        "{agency} y dé su número de referencia, {reference}.",
        "needs_info_read": "Leer el mensaje de {agency}",
        "time_in_state": "{date} a las {time}, hora del Este",
        "time_am": "a. m.",
        "time_pm": "p. m.",
        "my_applications": "Mis solicitudes",
        "no_applications": "Todavía no ha enviado ninguna solicitud.",
        "drafts": "Solicitudes guardadas",
        "resume": "Continuar esta solicitud",
        "timeline": "Progreso",
        "submitted": "Enviada",
        "status": "Estado",
        "message": "Mensaje",
        "profile": "Su perfil",
        "profile_intro": "Estas son las respuestas que guardamos para que no tenga que darlas "
        "de nuevo.",
        "consent_keep": "Guardar mis respuestas para llenar mis próximos formularios",
        "consent_save": "Guardar mi elección",
        "erase": "Borrar todo lo que guardan sobre mí",
        "erase_warning": "Esto borra las respuestas guardadas para llenar formularios. No se "
        "puede deshacer. Las solicitudes ya enviadas no se ven afectadas.",
        "erased": "Sus respuestas guardadas han sido borradas y ya no se guardan sus respuestas.",
        "consent_saved": "Su elección ha sido guardada.",
        "profile_change_title": "Cambiar su respuesta: {label}",
        "profile_change_intro": "Usamos esta respuesta para llenar sus próximos formularios. "
        "Las solicitudes que ya envió conservan la respuesta que dio en ellas.",
        "profile_masked_hint": "Su respuesta guardada está oculta porque es confidencial. "
        "Escríbala de nuevo para cambiarla.",
        "profile_save_value": "Guardar esta respuesta",
        "profile_remove_heading": "O quitar esta respuesta",
        "profile_remove_intro": "Si la quita, sus próximos formularios no se llenarán con "
        "ella. Puede darla de nuevo en su próximo formulario.",
        "profile_remove_value": "Quitar esta respuesta",
        "profile_cannot_change": "Esta respuesta no se puede cambiar aquí. Puede quitarla y "
        "darla de nuevo en su próximo formulario.",
        "profile_value_saved": "Su respuesta para {label} ha sido guardada.",
        "profile_value_removed": "Su respuesta para {label} ha sido quitada.",
        "profile_no_consent": "Su respuesta no se guardó porque no está guardando sus "
        "respuestas. Elija guardar sus respuestas, guarde su elección y cambie la respuesta "
        "de nuevo.",
        "erase_confirm_title": "¿Seguro que quiere borrar todo lo que guardamos sobre usted?",
        "erase_confirm_list": "Esto borra:",
        "erase_confirm_values": "todas las respuestas que guardamos para llenar sus próximos "
        "formularios",
        "erase_confirm_consent": "su elección de guardar sus respuestas: dejan de guardarse "
        "hasta que vuelva a elegirlo",
        "erase_confirm_warning": "No se puede deshacer.",
        "erase_confirm_not": "Las solicitudes que ya envió no se ven afectadas: las agencias "
        "las conservan y puede seguir consultándolas aquí. Las solicitudes que guardó sin "
        "enviar conservan sus respuestas.",
        "erase_confirm_button": "Sí, borrar todo",
        "warning": "Aviso",
        "cancel": "Cancelar",
        "inbox": "Bandeja de entrada",
        "inbox_intro": "Solicitudes entregadas a {agency}. Solo ve las respuestas que permite "
        "el acuerdo de su agencia.",
        "no_deliveries": "Todavía no se ha entregado nada a su agencia.",
        "post_status": "Actualizar el estado",
        "send_update": "Enviar actualización",
        "audit": "Auditoría de redundancia",
        "home": "Inicio",
        "not_found": "Página no encontrada",
        "not_found_body": "Si escribió la dirección web, compruebe que sea correcta.",
        "server_error": "Lo sentimos, hay un problema con el servicio",
        "server_error_body": "Inténtelo más tarde. Sus respuestas guardadas no se han perdido.",
        "forbidden": "No puede ver esta página",
        "forbidden_body": "Esta página es para otro tipo de cuenta.",
        "expired": "Esta página ha caducado",
        "expired_body": "Por su seguridad, vuelva atrás, recargue la página e inténtelo de nuevo.",
        "unavailable": "Un servicio que necesita esta página no responde. Inténtelo en un minuto.",
        "signed_out_needed": "Inicie sesión para continuar.",
        "signed_out_get": "Se cerró su sesión. Inicie sesión de nuevo para volver a la página "
        "en la que estaba.",
        "signed_out_post": "Se cerró su sesión, así que sus respuestas en esa página no se "
        "guardaron. Inicie sesión de nuevo para volver a la página y escríbalas otra vez.",
        "invalid_credentials": "Escriba un correo electrónico y una contraseña correctos",
        "enter_email": "Escriba su correo electrónico",
        "enter_password": "Escriba su contraseña",
        "enter_full_name": "Escriba su nombre completo",
        "saved": "Sus respuestas se guardaron. Puede volver a ellas desde Mis solicitudes.",
        "systems": "Webhooks y entregas fallidas",
        "endpoints": "Sus direcciones de webhook",
        "no_endpoints": "Aún no hay direcciones: su agencia lee la fuente de entregas.",
        "endpoint_url": "Dirección del receptor (URL)",
        "add_endpoint": "Agregar dirección",
        "secret_once": "Copie ahora este secreto de firma: solo se muestra una vez.",
        "rotate": "Cambiar secreto",
        "delete": "Eliminar",
        "dead_letters": "Entregas fallidas",
        "no_dead": "No hay entregas fallidas.",
        "replay": "Entregar de nuevo",
        "replay_all": "Entregar todas de nuevo",
        "replayed": "{n} entregas en cola de nuevo.",
        "replayed_one": "1 entrega en cola de nuevo.",
        "share_erased": "Las respuestas se borraron el {date} según la regla de conservación "
        "de las copias entregadas. La solicitud enviada sigue siendo el registro.",
        "share_erased_undated": "Las respuestas se borraron según la regla de conservación "
        "de las copias entregadas. La solicitud enviada sigue siendo el registro.",
        "not_replayed": "Esta entrega no se puede volver a entregar.",
        "inbox_erased": "Respuestas borradas el {date} según la regla de conservación",
        "confirmed_counts": "Confirmado como {element}. Se asignaron {n} campos; quedaron "
        "fuera {m}.",
        "split_off": "{n} campos pasaron a un grupo propio.",
        "rejected_fields": "{n} campos salieron de este grupo.",
        "nav_main": "Principal",
        "nav_referrals": "Programas para usted",
        "nav_performance": "Desempeño",
        "nav_admin": "Administrar el catálogo",
        "form": "Formulario",
        "forms": "Formularios",
        "fields": "Campos",
        "title": "Título",
        "description": "Descripción",
        "agencies": "Agencias",
        "actions": "Acciones",
        "all": "Todas",
        "download": "Descargar",
        "answers": "Respuestas",
        "topic": "Tema",
        "all_topics": "Todos los temas",
        "enter_whole_number": "Escriba un número entero",
        "demo_accounts": "Cuentas de demostración (solo en modo local)",
        "demo_password": "Contraseña de todas",
        "role_resident": "residente",
        "role_agency": "personal de agencia",
        "role_auditor": "auditor (OPM)",
        "role_admin": "administrador",
        "see_referrals": "Vea otros programas para los que podría ser elegible",
        "status_sent": "Estado enviado.",
        "select_status": "Seleccione un estado",
        "say_what_info": "Indique qué información necesita",
        "say_why_reopen": "Indique por qué reabre la decisión",
        "csv_forms": "horas por formulario",
        "csv_clusters": "horas por dato",
        "csv_pairs": "formularios que se solapan",
        "csv_fields": "todos los campos",
        "audit_assumptions": "Cómo se calculan las horas: las horas de carga son los minutos "
        "para completar un formulario por sus respuestas al año, divididos entre 60 (Ley de "
        "Reducción de Trámites); la parte de un campo es la de los minutos del formulario "
        "repartidos por igual entre sus campos. Para las horas ahorradas suponemos que el "
        "{share} % de quienes llenan un formulario ya dio un dato en otro formulario, y que "
        "revisar una respuesta ya llenada toma el {review} % del tiempo de escribirla.",
        "sent_on": "Enviada el {date}.",
        "decision_final": "La decisión sobre esta solicitud es “{status}” ({date}). "
        "Una decisión es definitiva: para cambiarla, marque “Reabrir la decisión” e "
        "indique el motivo en el mensaje.",
        "decision_final_undated": "Esta solicitud ya tiene una decisión. Una decisión es "
        "definitiva: para cambiarla, marque “Reabrir la decisión” e indique el "
        "motivo en el mensaje.",
        "reopen_decision": "Reabrir la decisión",
        "reopen_hint": "Solo la agencia dueña del formulario puede reabrir su decisión. El "
        "residente ve el nuevo estado y su mensaje.",
        "status_not_posted": "No se pudo enviar el estado",
        "no_such_delivery": "No hay ninguna entrega {id} para su agencia.",
        "endpoint_address": "Dirección",
        "endpoint_active": "Activa",
        "endpoint_disabled": "Desactivada",
        "attempts": "Intentos",
        "last_error": "Último error",
        "enter_endpoint_url": "Escriba la dirección de su receptor, por ejemplo https://...",
        "too_long": "{field} debe tener como máximo {n} caracteres",
        "bad_request": "Hay un problema con lo que se envió",
        "bad_request_body": "No se pudo leer una parte. Vuelva atrás, revísela y reinténtelo.",
        "previous_page": "Anterior",
        "next_page": "Siguiente",
        "newest_first": "Las más recientes primero.",
        "inbox_pages": "Páginas de la bandeja de entrada",
        "newer_deliveries": "Solicitudes más recientes",
        "older_deliveries": "Solicitudes más antiguas",
        "dead_letter_pages": "Páginas de entregas fallidas",
        "newer_dead_letters": "Entregas fallidas más recientes",
        "older_dead_letters": "Entregas fallidas más antiguas",
        "confirm_note": "Nota",
        "check_endpoint_url": "Revise la dirección",
        "admin_title": "Administración del catálogo",
        "agency_code": "Código",
        "agency_name": "Nombre",
        "add_agency": "Agregar agencia",
        "slug": "Identificador",
        "slug_hint": "Letras minúsculas, números y guiones; por ejemplo, dss-snap-application",
        "published_version": "Versión publicada",
        "new_form": "Nuevo formulario",
        "minutes_to_complete": "Minutos para completarlo",
        "yearly_volume": "Respuestas al año",
        "create_form": "Crear formulario",
        "agreements": "Acuerdos",
        "new_agreement": "Nuevo acuerdo",
        "receiving_agency": "Agencia que recibe",
        "fields_hint": "Uno por línea: un puntero JSON (/address/city) o el identificador de un "
        "elemento de datos (person.birthDate).",
        "create_agreement": "Crear acuerdo",
        "registry_refused": "El registro de formularios lo rechazó ({status}).",
        "unknown_action": "Acción desconocida",
        "version_saved": "La versión {version} se guardó como {status} ({fields} campos).",
        "breaking_notice": "Es un cambio incompatible para las agencias que usan el formulario.",
        "not_breaking": "No es un cambio incompatible.",
        "changes_heading": "Cambios respecto a la versión publicada",
        "breaking_tag": "incompatible",
        "warnings": "Advertencias",
        "versions": "Versiones",
        "version": "Versión",
        "version_n": "versión {n}",
        "breaking": "Incompatible",
        "created_on": "Creada",
        "published_on": "Publicada",
        "version_state_draft": "Borrador",
        "version_state_published": "Publicada",
        "version_state_retired": "Retirada",
        "publish": "Publicar",
        "retire": "Retirar",
        "import_version": "Importar una versión nueva",
        "schema_file": "Archivo JSON Schema",
        "schema_file_hint": "Draft-04, -06, -07, 2019-09 o 2020-12.",
        "ui_file": "Documento de interfaz",
        "import_draft": "Importar como versión en borrador",
        "choose_schema_file": "Elija un archivo JSON Schema",
        "schema_too_large": "El archivo del esquema pesa más de {kb} kB",
        "schema_not_json": "El archivo del esquema no es un JSON válido",
        "ui_too_large": "El archivo del documento de interfaz pesa más de {kb} kB",
        "ui_not_json": "El archivo del documento de interfaz no es un JSON válido",
        "burden": "Carga de trabajo",
        "burden_hours_year": "Horas de carga al año",
        "prefill_hours_saved": "Horas que ahorra el prellenado",
        "burden_by_form": "Horas de carga y horas ahorradas por formulario",
        "burden_hours": "Horas de carga",
        "hours_saved": "Horas ahorradas",
        "suggested_element": "Elemento sugerido",
        "cluster_gone": (
            "La auditoría ya no muestra este grupo de campos. Un campo sale de su grupo cuando"
            " se confirma como elemento de datos, se separa o se rechaza, y no se muestra un"
            " grupo cuyos campos están todos en un solo formulario. Los grupos que muestra"
            " ahora están abajo."
        ),
        "cluster_fields": "Campos del grupo",
        "split_col": "Separar",
        "field": "Campo",
        "type": "Tipo",
        "new_cluster_name": "Nombre del nuevo grupo",
        "split_ticked": "Separar los campos marcados",
        "reject_ticked": "Rechazar los campos marcados",
        "tick_fields": "Campos que quiere separar, rechazar o confirmar",
        "tick_fields_hint": "Marque los campos y luego sepárelos en un grupo propio, recházelos "
        "si no contienen este dato o confírmelos como el elemento de datos de abajo.",
        "whose_col": "De quién es la respuesta",
        "whole_maps_col": 'Lo asigna "Confirmar el grupo"',
        "whose_own": "La persona que presenta la solicitud",
        "whose_veteran": "El veterano",
        "whose_spouse": "Cónyuge",
        "whose_child": "Hijo o hija",
        "whose_dependent": "Dependiente",
        "whose_parent": "Padre o madre",
        "whose_mother": "Madre",
        "whose_father": "Padre",
        "whose_guardian": "Tutor legal",
        "whose_caregiver": "Cuidador",
        "whose_contact": "Contacto",
        "whose_preparer": "Persona que prepara el formulario",
        "whose_representative": "Representante",
        "whose_deceased": "La persona fallecida",
        "whose_survivor": "Sobreviviente",
        "whose_sponsor": "Patrocinador",
        "whose_student": "Estudiante",
        "whose_beneficiary": "Beneficiario",
        "whose_employer": "Empleador",
        "whose_school": "Escuela",
        "data_element": "Elemento de datos",
        "confirm_hint": "Al confirmar el grupo, solo se asignan a este elemento los campos que son "
        'respuestas de la propia persona ("La persona que presenta la solicitud"), lo que '
        'permite el prellenado. "Confirmar los campos marcados" asigna exactamente los campos '
        "que marcó, sean de quien sean.",
        "confirm_cluster": "Confirmar el grupo",
        "confirm_ticked": "Confirmar los campos marcados",
        "left_out_title": "Campos que quedaron fuera",
        "left_out_intro": "La confirmación no asignó estos campos: no son respuestas de la "
        "propia persona, así que el prellenado los llenaría con la respuesta de otra persona. "
        'Para asignar alguno de todos modos, márquelo en la tabla de abajo y elija "Confirmar '
        'los campos marcados".',
        "left_out_caption": "Campos que la confirmación dejó fuera",
        "reason": "Motivo",
        "facts_repeated": "Datos que se piden más de una vez",
        "clusters_by_forms": "Grupos por número de formularios",
        "fact": "Dato",
        "overlap_most": "Formularios que más se solapan",
        "form_pairs": "Pares de formularios",
        "facts_shared": "Datos compartidos",
        "perf_heading": "Desempeño de los servicios",
        "period": "Periodo",
        "period_hint": "Por ejemplo 2026, 2026-Q2, 2026-05 o last-90d (los últimos 90 días)",
        "group_by": "Agrupar por",
        "priority": "Prioridad",
        "show": "Mostrar",
        "priority_jobs-economy": "Empleo y economía",
        "priority_child-family": "Niñez y familia",
        "priority_transportation": "Transporte",
        "priority_community-vitality": "Vitalidad de las comunidades",
        "perf_range": "Del {start} al {end}.",
        "perf_min_cell": "Los grupos con menos de {n} solicitudes no muestran cifras (—).",
        "measures_by_group": "Medidas por grupo",
        "group": "Grupo",
        "applications": "Solicitudes",
        "first_response": "Primera respuesta (mediana, días)",
        "decision_days": "Decisión: mediana / p90 (días)",
        "needs_info_share": "Se pidió información",
        "open": "Abiertas",
        "digital_uptake": "Uso digital",
        "target": "Meta",
        "weekly_trend": "Tendencia semanal",
        "fewer_than": "menos de {n}",
        "rag_green": "verde",
        "rag_amber": "ámbar",
        "rag_red": "rojo",
        "per_week": "Solicitudes por semana",
        "trend_legend": "Línea azul: solicitudes por semana; discontinua: mediana de días hasta la "
        "decisión.",
        "backlog_heading": "Solicitudes abiertas por estado y antigüedad",
        "age": "Antigüedad",
        "age_0-7d": "0 a 7 días",
        "age_8-30d": "8 a 30 días",
        "age_31-90d": "31 a 90 días",
        "age_90d+": "más de 90 días",
        "referrals_heading": "Referencias entre programas",
        "funnel_caption": "Sugeridas → iniciadas → enviadas (solo conteos)",
        "from": "De",
        "to": "A",
        "funnel": "Embudo",
        "stage_suggested": "sugeridas",
        "stage_started": "iniciadas",
        "stage_submitted": "enviadas",
        "no_referrals_period": "No hay referencias en este periodo.",
        "bad_period": "Escriba el periodo como AAAA, AAAA-Qn, AAAA-MM o last-Nd",
        "bad_priority": "Elija una de las cuatro prioridades",
        "measures_failed": "No se pudieron calcular las medidas",
        "referrals_failed": "No se pudieron leer las cifras de referencias de este periodo.",
        "needs_postgresql_heading": "Las medidas de desempeño necesitan la instalación con "
        "PostgreSQL",
        "needs_postgresql_body": "Esta copia del servicio usa SQLite, como la demostración que "
        "inicia make run. Las medidas y las cifras de referencias las calcula la base de datos, "
        "y solo PostgreSQL, la base de datos del servicio en producción, puede calcularlas.",
        "needs_postgresql_how": "Para verlas aquí, cree una base de datos PostgreSQL e inicie "
        "la demostración con el servicio de solicitudes en ella:",
        "needs_postgresql_referrals": "Las cifras de referencias también necesitan la "
        "instalación con PostgreSQL.",
        "referrals_title": "Programas para los que podría calificar",
        "referral_sent": "Ya la envió.",
        "referral_start": "Comenzar con mis respuestas ya puestas",
        "no_referrals": "Por ahora no hay sugerencias.",
        "enter_element": "Escriba el identificador del elemento de datos",
        "check_element": "Revise el elemento",
        "select_split_fields": "Seleccione los campos que quiere separar",
        "select_reject_fields": "Seleccione los campos que quiere rechazar",
        "select_confirm_fields": "Seleccione los campos que quiere confirmar",
        "none_own": "No se confirmó nada: ninguno de los {n} campos del grupo es una respuesta "
        'de la propia persona. Marque los campos que quiere asignar y elija "Confirmar los '
        'campos marcados".',
        "check_fields": "Revise los campos",
        "account_created": "Se creó su cuenta y ya inició sesión.",
        "account_created_sign_in": "Se creó su cuenta. Inicie sesión para continuar.",
        "account_exists": "Ya existe una cuenta con este correo electrónico",
        "check_details": "Revise sus datos",
        "add_first_an": "Agregar {item}",
        "list_none_added": "Aún no ha agregado nada.",
        "list_item_n": "Entrada {n}",
        "list_remove_item": "Quitar la entrada {n} de «{group}»",
        "list_add_first": "Agregar una entrada a «{group}»",
        "list_add_another": "Agregar otra entrada a «{group}»",
    },
}

STATUS_LABELS = {
    "en": {
        "pending": "Waiting to be delivered",
        "delivered": "Delivered",
        "acked": "Delivered and confirmed by the agency",
        "dead": "Delivery failed",
        "received": "Received",
        "in_review": "In review",
        "needs_info": "Needs more information",
        "approved": "Approved",
        "denied": "Denied",
        "submitted": "Sent",
    },
    "es": {
        "pending": "En espera de entrega",
        "delivered": "Entregada",
        "acked": "Entregada y confirmada por la agencia",
        "dead": "Entrega fallida",
        "received": "Recibida",
        "in_review": "En revisión",
        "needs_info": "Necesita más información",
        "approved": "Aprobada",
        "denied": "Denegada",
        "submitted": "Enviada",
    },
}


class Translator:
    """``t("key", n=3)`` in templates; an unknown key shows itself, so a gap is visible."""

    def __init__(self, locale: str) -> None:
        self.locale = locale if locale in LOCALES else "en"
        self.strings = STRINGS[self.locale]

    def __call__(self, key: str, **kwargs: Any) -> str:
        text = self.strings.get(key) or STRINGS["en"].get(key) or key
        return text.format(**kwargs) if kwargs else text

    def term(self, prefix: str, value: Any) -> str:
        """A value from a closed list (a version's state, a priority, an age band) in words:
        ``t.term("version_state_", "draft")`` is "Draft" / "Borrador"; a value with no words shows
        as it came."""
        if value is None:
            return ""
        key = f"{prefix}{value}"
        return self(key) if key in STRINGS["en"] else str(value)

    def status(self, status: str | None) -> str:
        if not status:
            return ""
        return STATUS_LABELS[self.locale].get(status, status.replace("_", " "))

    def date(self, value: Any) -> str:
        """``2026-11-25`` as "25 November 2026" / "25 de noviembre de 2026"; an ISO timestamp
        as its date in the state's time (Eastern): ``2026-11-27T04:15:00Z`` is 26 November,
        as the application's own page says "26 November 2026 at 11:15 p.m. Eastern Time"."""
        if not isinstance(value, str) or len(value) < 10:
            return "" if value is None else str(value)
        moment = in_state_time(value) or utc_instant(value)
        return value if moment is None else self.day(moment.date())

    def day(self, value: calendar_date) -> str:
        """A calendar date in words, as it is (no time zone involved)."""
        return day_in_words(value, self.locale)

    def datetime(self, value: Any) -> str:
        """An ISO timestamp as "25 November 2026 at 14:37 UTC" / "25 de noviembre de 2026 a
        las 14:37 UTC" (date and time both in UTC); a bare date as ``date`` does."""
        if not isinstance(value, str) or "T" not in value:
            return self.date(value)
        moment = utc_instant(value)
        if moment is None:
            return value
        joiner = " a las " if self.locale == "es" else " at "
        return f"{self.day(moment.date())}{joiner}{moment:%H:%M} UTC"

    def number(self, value: Any, places: int = 1) -> str:
        """Thousands separators per locale: 12,345.5 / 12.345,5; a fraction to ``places``
        decimals (0.42 with ``places=2``: 0.42 / 0,42)."""
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return "" if value is None else str(value)
        text = f"{value:,.0f}" if float(value).is_integer() else f"{value:,.{places}f}"
        if self.locale == "es":
            text = text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")
        return text
