"""Expose Locust's statistics in the Prometheus text format at /export/prometheus.

Imported by the locustfile. On Locust's init event the module adds one route to the web UI's
Flask app (the master's, or a standalone runner's; workers have no web UI and get nothing).
Each scrape renders the runner's current statistics, so on a master the numbers are the
aggregate of all workers.

The series names match the ones thidctl's native load runner exposes, so the Grafana
dashboard's Locust panels fill in whichever engine ran:

    locust_up, locust_users, locust_running (0 stopped, 1 spawning, 2 running),
    locust_workers_count,
    locust_requests_{num_requests,num_failures,avg_response_time,median_response_time,
                     min_response_time,max_response_time,current_rps,
                     current_fail_per_sec,avg_content_length}{method,name}
    locust_requests_current_response_time_percentile_{50,95}, locust_requests_fail_ratio,
    locust_errors{method,name,error}

Times are in milliseconds, as Locust reports them. The aggregated row carries
name="Aggregated" and an empty method. Everything is a gauge: Locust's "reset stats"
sets the counts back to zero at will.

The text is written by hand to keep the image free of extra packages.
"""

from __future__ import annotations

import math
from typing import Iterable, Optional

from locust import events

ROUTE = "/export/prometheus"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Locust runner states mapped onto locust_running.
_RUNNING_CODES = {"spawning": 1, "running": 2}

# Per-request series: (metric suffix, help text, how to read it off a StatsEntry).
_REQUEST_SERIES = (
    ("num_requests", "Requests made.", lambda e: e.num_requests),
    ("num_failures", "Requests that failed.", lambda e: e.num_failures),
    ("avg_response_time", "Mean response time in milliseconds.", lambda e: e.avg_response_time),
    ("median_response_time", "Median response time in milliseconds.", lambda e: e.median_response_time),
    ("min_response_time", "Fastest response time in milliseconds.", lambda e: e.min_response_time or 0),
    ("max_response_time", "Slowest response time in milliseconds.", lambda e: e.max_response_time),
    ("current_rps", "Requests per second over the last few seconds.", lambda e: e.current_rps),
    ("current_fail_per_sec", "Failures per second over the last few seconds.", lambda e: e.current_fail_per_sec),
    ("avg_content_length", "Mean response body size in bytes.", lambda e: e.avg_content_length),
)


def escape_label_value(value: object) -> str:
    """Escape a label value as the text format requires: backslash, quote, newline."""
    text = "" if value is None else str(value)
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def format_value(value: Optional[float]) -> str:
    """Render a sample value; None (no data yet) becomes NaN, which Prometheus accepts."""
    if value is None:
        return "NaN"
    number = float(value)
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "+Inf" if number > 0 else "-Inf"
    if number.is_integer() and abs(number) < 2**53:
        return str(int(number))
    return repr(number)


class Exposition:
    """Collects metric families and renders them as Prometheus text."""

    def __init__(self) -> None:
        self._lines: list[str] = []

    def family(self, name: str, help_text: str, samples: Iterable[tuple[dict, Optional[float]]]) -> None:
        self._lines.append(f"# HELP {name} {help_text}")
        self._lines.append(f"# TYPE {name} gauge")
        for labels, value in samples:
            if labels:
                rendered = ",".join(f'{key}="{escape_label_value(val)}"' for key, val in labels.items())
                self._lines.append(f"{name}{{{rendered}}} {format_value(value)}")
            else:
                self._lines.append(f"{name} {format_value(value)}")

    def render(self) -> str:
        return "\n".join(self._lines) + "\n"


def _worker_count(runner) -> int:
    # Only a MasterRunner has workers; `clients` holds the connected ones.
    clients = getattr(runner, "clients", None)
    if clients is None:
        return 0
    return len(clients)


def _current_percentile(total, percent: float) -> Optional[float]:
    try:
        return total.get_current_response_time_percentile(percent)
    except ValueError:
        # Raised when the response-time cache is off (no web UI); nothing to report then.
        return None


def render_metrics(runner) -> str:
    """Render the exposition text for a Locust runner (None renders locust_up only)."""
    out = Exposition()
    out.family("locust_up", "1 while the Locust exporter answers.", [({}, 1)])
    if runner is None:
        return out.render()

    stats = runner.stats
    out.family("locust_users", "Simulated users currently running.", [({}, runner.user_count)])
    out.family(
        "locust_running",
        "Runner state: 0 stopped or ready, 1 spawning, 2 running.",
        [({}, _RUNNING_CODES.get(str(runner.state), 0))],
    )
    out.family("locust_workers_count", "Workers connected to the master.", [({}, _worker_count(runner))])

    # Sort for a stable output; the aggregated row goes last, as in Locust's own table.
    entries = sorted(stats.entries.values(), key=lambda e: (str(e.name), str(e.method)))
    rows = entries + [stats.total]
    for suffix, help_text, read in _REQUEST_SERIES:
        out.family(
            f"locust_requests_{suffix}",
            help_text,
            [({"method": row.method or "", "name": row.name}, read(row)) for row in rows],
        )

    out.family(
        "locust_requests_current_response_time_percentile_50",
        "Median response time of all requests over the last few seconds, in milliseconds.",
        [({}, _current_percentile(stats.total, 0.5))],
    )
    out.family(
        "locust_requests_current_response_time_percentile_95",
        "95th percentile response time of all requests over the last few seconds, in milliseconds.",
        [({}, _current_percentile(stats.total, 0.95))],
    )
    out.family("locust_requests_fail_ratio", "Share of all requests that failed.", [({}, stats.total.fail_ratio)])
    out.family(
        "locust_errors",
        "Occurrences of each distinct error.",
        [
            ({"method": err.method or "", "name": err.name, "error": err.error}, err.occurrences)
            for err in stats.errors.values()
        ],
    )
    return out.render()


@events.init.add_listener
def add_prometheus_route(environment, **_kwargs) -> None:
    web_ui = getattr(environment, "web_ui", None)
    if web_ui is None:
        return

    from flask import Response  # Locust's web UI is Flask; imported late so workers never need it

    @web_ui.app.route(ROUTE)
    def export_prometheus():
        return Response(render_metrics(environment.runner), mimetype=None, content_type=CONTENT_TYPE)
