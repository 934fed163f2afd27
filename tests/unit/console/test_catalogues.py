"""Every label is translated into Chinese, and the committed .mo is the .po compiled
(a clean clone needs no build step to show Chinese)."""

from __future__ import annotations

import io
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from services.console import i18n

CONSOLE = Path(i18n.__file__).parent
PO = CONSOLE / "translations" / "zh" / "LC_MESSAGES" / "messages.po"
MO = PO.with_suffix(".mo")
METHODS = [("**.py", "python"), ("**/templates/**.html", "jinja2")]
OPTIONS = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n"}}


def _source_messages() -> set[str | tuple[str, ...]]:
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2)}
    found = extract_from_dir(CONSOLE, METHODS, OPTIONS, keywords)
    return {msg if isinstance(msg, str) else tuple(msg) for _, _, msg, _, _ in found}


def test_every_label_in_code_and_templates_has_a_chinese_translation() -> None:
    catalogue = read_po(PO.open("rb"))
    translated = {
        m.id if isinstance(m.id, str) else tuple(m.id) for m in catalogue if m.id and m.string
    }
    messages = _source_messages()
    assert len(messages) > 50
    assert messages - translated == set()


def test_the_committed_mo_is_the_po_compiled() -> None:
    po = {_key(m.id): _key(m.string) for m in read_po(PO.open("rb")) if m.id}
    mo = {_key(m.id): _key(m.string) for m in read_mo(io.BytesIO(MO.read_bytes())) if m.id}
    assert mo == po


def _key(value: object) -> object:
    return tuple(value) if isinstance(value, list | tuple) else value


def test_language_from_accept_language_honours_q_values() -> None:
    assert i18n.negotiate("zh-CN,zh;q=0.9,en;q=0.8") == "zh"
    assert i18n.negotiate("en-US,zh;q=0.5") == "en"
    assert i18n.negotiate("fr;q=1, zh-TW;q=0.4") == "zh"
    assert i18n.negotiate("de") == "en"
    assert i18n.negotiate(None) == "en"
