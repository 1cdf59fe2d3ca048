"""Which metric names a PromQL expression uses, and which ones stockline exports.

Shared by the dashboard and alert-rule tests: both must only query series the code emits,
so a renamed metric breaks a test instead of silently blanking a panel or an alert.
"""

from __future__ import annotations

import re

from prometheus_client import CollectorRegistry

from stockline.adapters.http.metrics import HttpMetrics
from stockline.adapters.metrics import Metrics

PROMETHEUS_BUILTINS = frozenset({"up"})
"""Series Prometheus itself writes for every target."""

PENDING: frozenset[str] = frozenset()
"""Series the dashboard or alerts query before the code exports them. Each name here must be
absent from the code (a test checks), so it has to leave this set the day it lands.
Empty now: stockline_consumer_lag, stockline_atp_freshness_seconds_bucket and the HTTP
series (stockline_http_requests_total, stockline_http_request_seconds_bucket) all exist."""

_SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("", "_sum", "_count", "_created"),
    "info": ("_info",),
}
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGE = re.compile(r"\[[^\]]*\]")
_LABEL_LIST = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
# an identifier not preceded by a word char, '.', ':' or '$' (numbers, 1e3, $vars) and not
# followed by '(' (functions and aggregations)
_IDENT = re.compile(r"(?<![\w.:$])([A-Za-z_:][\w:]*)\b(?!\s*\()")
_KEYWORDS = frozenset({"and", "or", "unless", "bool", "offset", "inf", "nan", "atan2"})


def metric_names(expr: str) -> set[str]:
    """Metric names in a PromQL expression (not labels, functions, keywords or numbers)."""
    text = _STRING.sub('""', expr)
    text = _MATCHERS.sub("", text)
    text = _RANGE.sub("", text)
    text = _LABEL_LIST.sub("", text)
    return {m for m in _IDENT.findall(text) if m.lower() not in _KEYWORDS}


def series_names(registry: CollectorRegistry) -> set[str]:
    """Every series name a registry can expose, including label sets not yet observed."""
    names: set[str] = set()
    for family in registry.collect():
        names.update(family.name + suffix for suffix in _SUFFIXES[family.type])
    return names


def exported() -> set[str]:
    """Series the worker (`Metrics`) and the read API (`HttpMetrics`) export."""
    return series_names(Metrics().registry) | series_names(HttpMetrics().registry)


def unknown(names: set[str]) -> set[str]:
    """Names that are neither exported, built in, nor declared pending."""
    return names - exported() - PROMETHEUS_BUILTINS - PENDING
