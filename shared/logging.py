"""structlog logging with personal-data redaction: JSON lines, except on a terminal,
where people read them (structlog's console renderer: aligned, coloured, one event
a line). A log file always gets JSON.

Every line carries `service`, `event` and (when bound) `correlation_id`. Personal
data never reaches a log line: values under known personal keys are replaced, and
any e-mail address or phone number inside any string is masked, wherever it hides.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any, TextIO

import structlog

REDACTED = "[redacted]"

# Keys whose values are about a person, whatever their shape.
PERSONAL_KEYS = frozenset(
    {
        "email",
        "phone",
        "president",
        "contact",
        "president_name",
        "president_email",
        "president_phone",
        "contact_name",
        "contact_email",
        "contact_phone",
        "person_name",
        "full_name",
        "recipient",
        "to",
    }
)

# Linear on any input: a match may only start where a token starts (the look-behind
# fails in one step elsewhere) and possessive runs never backtrack, so a long value
# costs one pass, not one pass per position.
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]++@[\w-]++(?:\.[\w-]++)+")
# International or local numbers of 7+ digits with the usual separators; bounded,
# so each candidate is a short scan.
_PHONE = re.compile(r"(?<![\w-])\+?\d[\d\s().-]{6,24}\d(?![\w-])")
# A log value longer than this is cut before it is scrubbed (and before it is written).
MAX_VALUE_CHARS = 2_000


def scrub_text(text: str) -> str:
    if len(text) > MAX_VALUE_CHARS:
        text = text[:MAX_VALUE_CHARS] + "…[cut]"
    if "@" in text:
        text = _EMAIL.sub(REDACTED, text)
    return _PHONE.sub(lambda m: REDACTED if _looks_like_phone(m.group()) else m.group(), text)


def _looks_like_phone(candidate: str) -> bool:
    digits = sum(c.isdigit() for c in candidate)
    # Dates (2026-05-15), times and UUID fragments are not phone numbers.
    return digits >= 7 and not re.fullmatch(r"\d{4}-\d{2}-\d{2}.*", candidate)


def scrub(value: Any, key: str | None = None) -> Any:
    if key is not None and key.lower() in PERSONAL_KEYS:
        return REDACTED if value is not None else None
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, Mapping):
        return {k: scrub(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [scrub(v) for v in value]
    return value


def redact_personal_data(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key in list(event_dict):
        event_dict[key] = scrub(event_dict[key], key)
    return event_dict


def configure_logging(
    service: str, level: str = "info", log_file: str | None = None, stream: TextIO | None = None
) -> None:
    """Route structlog and the standard library through one chain: redaction, then
    per stream the console renderer (a terminal) or JSON (anything else)."""
    streams: list[TextIO] = [stream or sys.stdout]
    if log_file:
        # Open for the life of the process: every log line goes to it.
        streams.append(open(log_file, "a", buffering=1, encoding="utf-8"))  # noqa: SIM115
    outputs = [(s, _renderer_for(s)) for s in streams]
    shared_processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _bind_service(service),
    ]
    structlog.configure(
        processors=[
            *shared_processors,
            # Before redaction, so that a traceback's text is scrubbed too.
            structlog.processors.format_exc_info,
            redact_personal_data,
            _to_each_stream,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        logger_factory=_TeeLoggerFactory(outputs),
        cache_logger_on_first_use=False,
    )
    root = logging.getLogger()
    root.handlers.clear()
    for s, renderer in outputs:
        # Library logs (aiokafka, aiohttp) go through the same scrubber and renderer.
        handler = logging.StreamHandler(s)
        handler.setFormatter(
            structlog.stdlib.ProcessorFormatter(
                foreign_pre_chain=shared_processors,
                processors=[
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info,
                    redact_personal_data,
                    renderer,
                ],
            )
        )
        root.addHandler(handler)
    root.setLevel(max(logging.getLevelNamesMapping()[level.upper()], logging.INFO))
    logging.getLogger("aiokafka").setLevel(logging.WARNING)


Renderer = Any  # a structlog processor that returns the line


def _renderer_for(stream: TextIO) -> Renderer:
    if _is_terminal(stream):
        return structlog.dev.ConsoleRenderer(colors="NO_COLOR" not in os.environ)
    return structlog.processors.JSONRenderer()


def _is_terminal(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def _to_each_stream(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    # Each stream renders the event its own way (_TeeLogger.msg).
    return (dict(event_dict), _method), {}


def _bind_service(service: str) -> Any:
    def processor(
        _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        event_dict.setdefault("service", service)
        return event_dict

    return processor


class _TeeLogger:
    def __init__(self, outputs: list[tuple[TextIO, Renderer]]) -> None:
        self._outputs = outputs

    def msg(self, event_dict: dict[str, Any], method: str = "info") -> None:
        for stream, render in self._outputs:
            # A copy each: the console renderer pops what it has shown.
            stream.write(render(None, method, dict(event_dict)) + "\n")
            stream.flush()

    log = debug = info = warning = warn = error = critical = exception = fatal = msg


class _TeeLoggerFactory:
    def __init__(self, outputs: list[tuple[TextIO, Renderer]]) -> None:
        self._outputs = outputs

    def __call__(self, *args: Any) -> _TeeLogger:
        return _TeeLogger(self._outputs)


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)
