"""Chinese and English: gettext catalogues (Babel) per request, chosen from the
session (the viewer switched) or else Accept-Language; dates in the road show's zone."""

from __future__ import annotations

import contextvars
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime, format_time
from babel.support import NullTranslations, Translations

LANGUAGES = ("en", "zh")
DEFAULT = "en"
CATALOGUES = Path(__file__).parent / "translations"

_current: contextvars.ContextVar[str] = contextvars.ContextVar("console_language", default=DEFAULT)
_catalogue: contextvars.ContextVar[NullTranslations | None] = contextvars.ContextVar(
    "console_catalogue", default=None
)
_SOURCE = NullTranslations()  # English: the msgids themselves


def load_catalogues() -> dict[str, NullTranslations]:
    """English is the source language (msgids); Chinese from translations/zh (.mo)."""
    out: dict[str, NullTranslations] = {"en": NullTranslations()}
    for lang in LANGUAGES[1:]:
        out[lang] = Translations.load(str(CATALOGUES), [lang], domain="messages")
    return out


def negotiate(accept_language: str | None) -> str:
    """The best of LANGUAGES for an Accept-Language header (q-values honoured)."""
    preferred: list[tuple[float, str]] = []
    for i, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        if not tag:
            continue
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        preferred.append((q - i * 1e-6, tag.strip().replace("_", "-")))
    ordered = [tag for q, tag in sorted(preferred, reverse=True) if q > 0]
    found = Locale.negotiate(ordered, list(LANGUAGES), sep="-")
    return str(found.language) if found else DEFAULT


def set_language(lang: str, catalogues: dict[str, NullTranslations]) -> None:
    """This request's language (the middleware sets it before the handler runs)."""
    chosen = lang if lang in LANGUAGES else DEFAULT
    _current.set(chosen)
    _catalogue.set(catalogues[chosen])


def raw_gettext(message: str) -> str:
    """For the templates: Jinja's i18n extension formats the placeholders itself."""
    return _translations().gettext(message)


def raw_ngettext(singular: str, plural: str, n: int) -> str:
    return _translations().ngettext(singular, plural, n)


def gettext(message: str, **values: object) -> str:
    text = _translations().gettext(message)
    return text % values if values else text


def ngettext(singular: str, plural: str, n: int, **values: object) -> str:
    text = _translations().ngettext(singular, plural, n)
    return text % {"num": n, **values}


def _translations() -> NullTranslations:
    return _catalogue.get() or _SOURCE


def language() -> str:
    return _current.get()


def when(value: str | datetime | None, zone: str, style: str = "short") -> str:
    """A date and time in the road show's zone, in the viewer's language."""
    if value is None:
        return ""
    dt = datetime.fromisoformat(value) if isinstance(value, str) else value
    return format_datetime(dt, style, tzinfo=ZoneInfo(zone), locale=_locale())


def clock(value: str | datetime, zone: str) -> str:
    """The time of day (HH:MM) in the road show's zone."""
    dt = datetime.fromisoformat(value) if isinstance(value, str) else value
    return format_time(dt.astimezone(ZoneInfo(zone)), "HH:mm", locale=_locale())


def day(value: str) -> str:
    return format_date(datetime.fromisoformat(value).date(), "medium", locale=_locale())


def _locale() -> str:
    return "zh_Hans_CN" if language() == "zh" else "en_GB"
