"""Prometheus metrics of the platform parts; each process exposes them on /metrics."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUESTS = Counter(
    "roadshow_http_requests_total", "HTTP requests answered", ["route", "method", "status"]
)
HTTP_LATENCY = Histogram(
    "roadshow_http_request_seconds", "HTTP request latency", ["route", "method"]
)
OUTBOX_PUBLISHED = Counter("roadshow_outbox_published_total", "Outbox rows acknowledged by Kafka")
OUTBOX_ERRORS = Counter("roadshow_outbox_errors_total", "Failed outbox publish rounds")
OUTBOX_PENDING = Gauge("roadshow_outbox_pending", "Outbox rows not yet published")
CONSUMED = Counter(
    "roadshow_consumer_messages_total",
    "Messages a consumer finished with, by outcome",
    ["consumer", "outcome"],
)
CONSUMER_LAG_SECONDS = Gauge(
    "roadshow_consumer_event_age_seconds",
    "Age of the last event a consumer handled (occurred_at to now)",
    ["consumer"],
)
