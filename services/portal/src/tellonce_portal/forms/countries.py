"""Countries' names by ISO 3166-1 alpha-3 code, in the portal's languages.

Agencies' schemas key addresses by these codes (the VA's: ``USA``, ``CAN``, ``MEX``) and
seldom name them (``enumNames``): a resident picks "United States", not "USA". The table is
short on purpose (the Americas, the countries residents most often come from, and the large
ones): a code missing from it is shown as the code.
"""

from __future__ import annotations

import unicodedata

COUNTRY_NAMES: dict[str, dict[str, str]] = {
    "USA": {"en": "United States", "es": "Estados Unidos"},
    "CAN": {"en": "Canada", "es": "Canadá"},
    "MEX": {"en": "Mexico", "es": "México"},
    "PRI": {"en": "Puerto Rico", "es": "Puerto Rico"},
    "GUM": {"en": "Guam", "es": "Guam"},
    "VIR": {"en": "U.S. Virgin Islands", "es": "Islas Vírgenes de los Estados Unidos"},
    "ASM": {"en": "American Samoa", "es": "Samoa Americana"},
    "MNP": {"en": "Northern Mariana Islands", "es": "Islas Marianas del Norte"},
    "CUB": {"en": "Cuba", "es": "Cuba"},
    "DOM": {"en": "Dominican Republic", "es": "República Dominicana"},
    "HTI": {"en": "Haiti", "es": "Haití"},
    "JAM": {"en": "Jamaica", "es": "Jamaica"},
    "GTM": {"en": "Guatemala", "es": "Guatemala"},
    "SLV": {"en": "El Salvador", "es": "El Salvador"},
    "HND": {"en": "Honduras", "es": "Honduras"},
    "NIC": {"en": "Nicaragua", "es": "Nicaragua"},
    "CRI": {"en": "Costa Rica", "es": "Costa Rica"},
    "PAN": {"en": "Panama", "es": "Panamá"},
    "COL": {"en": "Colombia", "es": "Colombia"},
    "VEN": {"en": "Venezuela", "es": "Venezuela"},
    "ECU": {"en": "Ecuador", "es": "Ecuador"},
    "PER": {"en": "Peru", "es": "Perú"},
    "BRA": {"en": "Brazil", "es": "Brasil"},
    "ARG": {"en": "Argentina", "es": "Argentina"},
    "CHL": {"en": "Chile", "es": "Chile"},
    "GBR": {"en": "United Kingdom", "es": "Reino Unido"},
    "IRL": {"en": "Ireland", "es": "Irlanda"},
    "FRA": {"en": "France", "es": "Francia"},
    "DEU": {"en": "Germany", "es": "Alemania"},
    "ESP": {"en": "Spain", "es": "España"},
    "ITA": {"en": "Italy", "es": "Italia"},
    "POL": {"en": "Poland", "es": "Polonia"},
    "UKR": {"en": "Ukraine", "es": "Ucrania"},
    "PHL": {"en": "Philippines", "es": "Filipinas"},
    "IND": {"en": "India", "es": "India"},
    "CHN": {"en": "China", "es": "China"},
    "JPN": {"en": "Japan", "es": "Japón"},
    "KOR": {"en": "South Korea", "es": "Corea del Sur"},
    "VNM": {"en": "Vietnam", "es": "Vietnam"},
    "AUS": {"en": "Australia", "es": "Australia"},
    "NGA": {"en": "Nigeria", "es": "Nigeria"},
}


def country_name(code: str, locale: str) -> str | None:
    """``USA`` -> "United States" / "Estados Unidos"; None for a code not in the table."""
    names = COUNTRY_NAMES.get(code)
    if names is None:
        return None
    return names.get(locale) or names["en"]


def every_name(code: str) -> list[str]:
    """The code's names in every language the portal speaks (a Spanish page understands
    "United States" typed as well as "Estados Unidos")."""
    return list(COUNTRY_NAMES.get(code, {}).values())


def folded(text: str) -> str:
    """How typed answers are compared: case, spaces and accents do not count ("united
    states", "UnitedStates", "Mexico" for "México"). ``portal.js`` folds the same way."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return "".join(bare.split()).lower()
