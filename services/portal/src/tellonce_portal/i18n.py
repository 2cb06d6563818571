"""The portal's own words in English and Spanish. Form questions come from the UI document's
locales; these are the words around them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

LOCALES = ("en", "es")

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
        "prefilled": "From your profile: check it is still right",
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
        "start_now": "Start now",
        "who_receives": "Who will receive your answers",
        "receives_all": "All your answers on this form (it owns the form)",
        "purpose": "Purpose",
        "legal_basis": "Legal basis",
        "no_agreements": "Only {agency}, which owns this form, receives your answers.",
        "prefill_choice": "Fill in answers I have already given in earlier forms",
        "prefill_hint": "We only use answers you agreed we could keep. You can change them.",
        "page_n_of": "Page {n} of {total}",
        "check_answers": "Check your answers before sending your application",
        "change": "Change",
        "not_answered": "Not answered",
        "submit": "Accept and send",
        "declaration": "By sending this application you confirm that, to the best of your "
        "knowledge, the details you are providing are correct.",
        "confirmation": "Application complete",
        "reference": "Your reference number",
        "receipt": "Download your receipt (PDF)",
        "what_next": "What happens next",
        "what_next_body": "Each agency below has received the answers it needs. You can "
        "follow their progress in My applications.",
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
        "erased": "Your kept answers have been erased.",
        "consent_saved": "Your choice has been saved.",
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
        "confirmed": "The cluster is confirmed as {element}.",
        "split_off": "{n} fields moved to a cluster of their own.",
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
        "prefilled": "De su perfil: compruebe que sigue siendo correcto",
        "error": "Error",
        "yes": "Sí",
        "no": "No",
        "select_option": "Seleccione una opción",
        "one_per_line": "Escriba uno por línea.",
        "none_added": "Aún no ha agregado ningún elemento ({item}).",
        "item_n": "{item} {n}",
        "remove_item": "Quitar {item} {n}",
        "add_first": "Agregar ({item})",
        "add_another": "Agregar otro ({item})",
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
        "no_forms": "Ningún formulario coincide con su búsqueda.",
        "start_now": "Comenzar ahora",
        "who_receives": "Quién recibirá sus respuestas",
        "receives_all": "Todas sus respuestas de este formulario (es el dueño del formulario)",
        "purpose": "Propósito",
        "legal_basis": "Base legal",
        "no_agreements": "Solo {agency}, dueña de este formulario, recibe sus respuestas.",
        "prefill_choice": "Llenar con respuestas que ya di en formularios anteriores",
        "prefill_hint": "Solo usamos respuestas que usted aceptó que guardáramos. Puede "
        "cambiarlas.",
        "page_n_of": "Página {n} de {total}",
        "check_answers": "Revise sus respuestas antes de enviar su solicitud",
        "change": "Cambiar",
        "not_answered": "Sin respuesta",
        "submit": "Aceptar y enviar",
        "declaration": "Al enviar esta solicitud confirma que, según su leal saber y entender, "
        "los datos que proporciona son correctos.",
        "confirmation": "Solicitud completada",
        "reference": "Su número de referencia",
        "receipt": "Descargar su comprobante (PDF)",
        "what_next": "Qué sucede ahora",
        "what_next_body": "Cada agencia de abajo recibió las respuestas que necesita. Puede "
        "seguir su progreso en Mis solicitudes.",
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
        "erased": "Sus respuestas guardadas han sido borradas.",
        "consent_saved": "Su elección ha sido guardada.",
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
        "confirmed": "El grupo quedó confirmado como {element}.",
        "split_off": "{n} campos pasaron a un grupo propio.",
    },
}

STATUS_LABELS = {
    "en": {
        "pending": "Waiting to be delivered",
        "delivered": "Delivered",
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
        "dead": "Entrega fallida",
        "received": "Recibida",
        "in_review": "En revisión",
        "needs_info": "Necesita más información",
        "approved": "Aprobada",
        "denied": "Denegada",
        "submitted": "Enviada",
    },
}

_MONTHS = {
    "en": [
        "January", "February", "March", "April", "May", "June", "July", "August",
        "September", "October", "November", "December",
    ],
    "es": [
        "enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto",
        "septiembre", "octubre", "noviembre", "diciembre",
    ],
}  # fmt: skip


class Translator:
    """``t("key", n=3)`` in templates; an unknown key shows itself, so a gap is visible."""

    def __init__(self, locale: str) -> None:
        self.locale = locale if locale in LOCALES else "en"
        self.strings = STRINGS[self.locale]

    def __call__(self, key: str, **kwargs: Any) -> str:
        text = self.strings.get(key) or STRINGS["en"].get(key) or key
        return text.format(**kwargs) if kwargs else text

    def status(self, status: str | None) -> str:
        if not status:
            return ""
        return STATUS_LABELS[self.locale].get(status, status.replace("_", " "))

    def date(self, value: Any) -> str:
        """``2026-11-25`` or an ISO timestamp as "25 November 2026" / "25 de noviembre de
        2026"."""
        if not isinstance(value, str) or len(value) < 10:
            return "" if value is None else str(value)
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
        month = _MONTHS[self.locale][moment.month - 1]
        if self.locale == "es":
            return f"{moment.day} de {month} de {moment.year}"
        return f"{moment.day} {month} {moment.year}"

    def datetime(self, value: Any) -> str:
        """An ISO timestamp as "25 November 2026 at 14:37 UTC" / "25 de noviembre de 2026 a
        las 14:37 UTC"; a bare date as ``date`` does."""
        if not isinstance(value, str) or "T" not in value:
            return self.date(value)
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
        if moment.tzinfo is not None:
            moment = moment.astimezone(UTC)
        joiner = " a las " if self.locale == "es" else " at "
        return f"{self.date(moment.isoformat())}{joiner}{moment:%H:%M} UTC"

    def number(self, value: Any) -> str:
        """Thousands separators per locale: 12,345.5 / 12.345,5."""
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return "" if value is None else str(value)
        text = f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"
        if self.locale == "es":
            text = text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")
        return text
