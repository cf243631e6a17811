"""OpenTelemetry traces and metrics of every call (``pip install discourse-async[otel]``).

With ``opentelemetry-api`` installed, a client reports to the global tracer and meter providers
(whatever SDK the application set up) from the moment the application imports OpenTelemetry:
until then nothing of it is imported (and without the package, never). Per call:

* a span ``discourse <namespace>.<method>`` (e.g. ``discourse posts.create_post``; ``discourse request``
  for ``dc.request()``, whose path is not exported), a child of the
  caller's current span, with HTTP client semantic-convention attributes (``http.request.method``,
  ``url.template``, ``server.address``, ``server.port``, ``http.response.status_code``,
  ``error.type``, ``http.request.resend_count``) and ``discourse.retry_count``;
* an event ``discourse.request`` for each HTTP request that did not end the call (an attempt
  that failed or is retried, a redirect followed) with its status or error and resend count; or,
  with ``Telemetry(request_spans=True)``, a child span per HTTP request (``GET /t/{id}.json``);
* events ``discourse.rate_limit.wait`` (client-side budget), ``discourse.rate_limit.pause`` (a
  site-wide 429) and ``discourse.retry``, with their seconds and reason;
* metrics: ``http.client.request.duration`` (per HTTP request, by operation and status; its count
  is the number of requests), ``discourse.client.retries`` (by reason), ``discourse.client.wait.duration``
  (by kind) and ``discourse.client.rate_limit.taken`` (budget slots taken, by bucket scope and store:
  summed over the workers sharing a store, the fleet's use of the budget).

Never exported: a key, a header, a query string, a body, or a URL path (paths name users). The
acting username goes in ``user.name`` only with ``Telemetry(record_usernames=True)``.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from functools import cache
from typing import TYPE_CHECKING, Any

from discourse_async._extras import requires_extra
from discourse_async._version import __version__
from discourse_async.hooks import Call, Hooks, WaitKind

if TYPE_CHECKING:
    from opentelemetry.metrics import MeterProvider
    from opentelemetry.trace import Span, TracerProvider

__all__ = ["AutoTelemetry", "Telemetry", "otel_installed"]

_SCOPE = "discourse_async"
# Seconds: the semantic conventions' advice for http.client.request.duration.
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)


@cache
def otel_installed() -> bool:
    """Whether ``opentelemetry-api`` can be imported (looked up once, without importing it).

    ``find_spec("opentelemetry.trace")`` would import the ``opentelemetry`` package itself: look
    for the ``trace`` package in its folders instead.
    """
    try:
        spec = importlib.util.find_spec("opentelemetry")
    except (ImportError, ValueError):
        return False
    folders = spec.submodule_search_locations if spec is not None else None
    return any(os.path.isfile(os.path.join(folder, "trace", "__init__.py")) for folder in folders or ())


class Telemetry(Hooks):
    """OpenTelemetry for a client: ``Discourse(url, ..., telemetry=Telemetry(...))``.

    A client makes one by default when ``opentelemetry-api`` is installed; pass ``telemetry=False``
    for none. While no provider is set (the API without an SDK) a call costs one check.

    Args:
        tracer_provider: where spans go (default: the global provider, looked up at each call).
        meter_provider: where metrics go (default: the global provider, looked up at each call).
        record_usernames: put the user an admin key acts as in ``user.name`` (off by default:
            usernames are personal data).
        request_spans: a child span per HTTP request instead of events for the ones that did
            not end the call (more detail; a span costs an SDK more than an event).
    """

    def __init__(
        self,
        *,
        tracer_provider: TracerProvider | None = None,
        meter_provider: MeterProvider | None = None,
        record_usernames: bool = False,
        request_spans: bool = False,
    ) -> None:
        with requires_extra("otel", "Telemetry (telemetry=True)"):
            from opentelemetry import metrics, trace

        self._trace = trace
        self._metrics = metrics
        self._fixed_tracer_provider = tracer_provider
        self._fixed_meter_provider = meter_provider
        self.record_usernames = record_usernames
        self.request_spans = request_spans
        self._unset_tracer = (trace.ProxyTracerProvider, trace.NoOpTracerProvider)
        self._unset_meter = (type(_proxy_meter_provider(metrics)), metrics.NoOpMeterProvider)
        # The API keeps its global providers in module variables: reading them is far cheaper than
        # get_*_provider() (which also reads the environment), and this runs at every call.
        if "OTEL_PYTHON_TRACER_PROVIDER" in os.environ:
            trace.get_tracer_provider()  # loads and sets the provider the environment names
        if "OTEL_PYTHON_METER_PROVIDER" in os.environ:
            metrics.get_meter_provider()
        self._trace_globals = _globals_holding(trace, "_TRACER_PROVIDER")
        self._metrics_globals = _globals_holding(getattr(metrics, "_internal", None), "_METER_PROVIDER")
        self._tracer_provider: Any = _UNSEEN
        self._meter_provider: Any = _UNSEEN
        self._active = False
        self._tracer: Any = None
        self._tracing = False
        self._metering = False
        self._kind = trace.SpanKind.INTERNAL if request_spans else trace.SpanKind.CLIENT
        self._attributes: dict[tuple[Any, ...], dict[str, Any]] = {}

    # ------------------------------------------------------------------ providers

    def active(self) -> bool:
        """Whether a provider records anything (checked at the start of each call)."""
        tracer_provider: Any = self._fixed_tracer_provider or (
            self._trace_globals.get("_TRACER_PROVIDER")
            if self._trace_globals is not None
            else self._trace.get_tracer_provider()
        )
        meter_provider: Any = self._fixed_meter_provider or (
            self._metrics_globals.get("_METER_PROVIDER")
            if self._metrics_globals is not None
            else self._metrics.get_meter_provider()
        )
        if tracer_provider is self._tracer_provider and meter_provider is self._meter_provider:
            return self._active
        self._tracer_provider, self._meter_provider = tracer_provider, meter_provider
        self._tracing = tracer_provider is not None and not isinstance(tracer_provider, self._unset_tracer)
        self._tracer = tracer_provider.get_tracer(_SCOPE, __version__) if self._tracing else None
        self._metering = meter_provider is not None and not isinstance(meter_provider, self._unset_meter)
        if self._metering:
            self._instruments(meter_provider.get_meter(_SCOPE, __version__))
        self._active = self._tracing or self._metering
        return self._active

    def _instruments(self, meter: Any) -> None:
        self._request_duration = meter.create_histogram(
            "http.client.request.duration",
            unit="s",
            description="Duration of HTTP client requests.",
            explicit_bucket_boundaries_advisory=_BUCKETS,
        )
        self._retries = meter.create_counter(
            "discourse.client.retries", unit="{retry}", description="Retries scheduled, by reason."
        )
        self._waits = meter.create_histogram(
            "discourse.client.wait.duration",
            unit="s",
            description="Waits for client-side rate-limit budget (budget) or a site-wide 429 pause (pause).",
        )
        self._taken = meter.create_counter(
            "discourse.client.rate_limit.taken",
            unit="{request}",
            description="Rate-limit budget slots taken; summed over a fleet sharing a store, the fleet's use.",
        )

    # ------------------------------------------------------------------ attributes (cached: built once per kind)

    def _base(self, call: Call) -> dict[str, Any]:
        key = (_operation(call), call.method, call.server_address, call.server_port)
        found = self._attributes.get(key)
        if found is None:
            found = {
                "discourse.operation": _operation(call),
                "http.request.method": call.method,
                "server.address": call.server_address,
                "server.port": call.server_port,
            }
            if call.route is not None:
                found["url.template"] = call.route
            self._attributes[key] = found
        return found

    def _with(self, call: Call, *extra: tuple[str, Any]) -> dict[str, Any]:
        """The call's attributes and ``extra`` (name, value) pairs (None values left out)."""
        key = (_operation(call), call.method, call.server_address, call.server_port, *extra)
        found = self._attributes.get(key)
        if found is None:
            found = {**self._base(call), **{name: value for name, value in extra if value is not None}}
            self._attributes[key] = found
        return found

    # ------------------------------------------------------------------ hooks
    # Per call state: [the operation's span, the open request span (request_spans) or whether the
    # last request was answered, the first request's URL].

    def on_start(self, call: Call) -> None:
        """Open the operation's span, a child of the caller's current span."""
        if self._tracing:
            # The span's name gives the operation: its attributes are the HTTP conventions' alone
            # (each one costs an SDK a copy and a check).
            key = (call.method, call.server_address, call.server_port, call.route)
            attributes = self._attributes.get(key)
            if attributes is None:
                attributes = {k: v for k, v in self._base(call).items() if k != "discourse.operation"}
                self._attributes[key] = attributes
            if self.record_usernames and call.username is not None:
                attributes = {**attributes, "user.name": call.username}
            name = f"discourse {call.name}" if call.route is not None else "discourse request"
            span = self._tracer.start_span(name, kind=self._kind, attributes=attributes)
            call.state[self] = [span, None, None]

    def on_request(self, call: Call, method: str, url: str, resend: int) -> None:
        """Open a child span for this HTTP request (``request_spans``), or note that it is out."""
        state = call.state.get(self)
        if state is None:
            return
        if not self.request_spans:
            state[1] = False  # not answered yet
            return
        span, _, first_url = state
        if first_url is None:
            state[2] = first_url = url
        attributes: dict[str, Any] = {
            "http.request.method": method,
            "server.address": call.server_address,
            "server.port": call.server_port,
        }
        # A redirect goes elsewhere: the operation's route no longer names the URL.
        if call.route is not None and url == first_url:
            attributes["url.template"] = call.route
        if resend:
            attributes["http.request.resend_count"] = resend
        name = f"{method} {attributes['url.template']}" if "url.template" in attributes else method
        state[1] = self._tracer.start_span(
            name,
            context=self._trace.set_span_in_context(span),
            kind=self._trace.SpanKind.CLIENT,
            attributes=attributes,
        )

    def on_response(self, call: Call, status_code: int, elapsed: float, size: int) -> None:
        """Record the request's duration; close its span, or add an event unless it may end the call."""
        error_type = str(status_code) if status_code >= 400 else None
        if self._metering:
            self._request_duration.record(
                elapsed, self._with(call, ("http.response.status_code", status_code), ("error.type", error_type))
            )
        state = call.state.get(self)
        if state is None:
            return
        if not self.request_spans:
            state[1] = True
            if status_code >= 300:  # a redirect or an error: another request follows, or the call fails
                attributes: dict[str, Any] = {"http.response.status_code": status_code}
                if error_type is not None:
                    attributes["error.type"] = error_type
                if call.requests > 1:
                    attributes["http.request.resend_count"] = call.requests - 1
                state[0].add_event("discourse.request", attributes)
            return
        request_span: Span | None = state[1]
        if request_span is not None:
            request_span.set_attribute("http.response.status_code", status_code)
            if error_type is not None:
                request_span.set_attribute("error.type", error_type)
                request_span.set_status(self._trace.StatusCode.ERROR)
            request_span.end()
            state[1] = None

    def on_retry(self, call: Call, wait: float, reason: str) -> None:
        """Count the retry; add a ``discourse.retry`` event (and ``discourse.rate_limit.pause`` after a 429)."""
        kind = reason.split(" ", 1)[0] if reason[:1].isdigit() else "connection"
        if kind == "429":  # the call waits out what Discourse asked for
            self.on_wait(call, wait, f"Discourse answered {reason} and asked to wait", "pause")
        if self._metering:
            self._retries.add(1, self._with(call, ("discourse.retry.reason", kind)))
        state = call.state.get(self)
        if state is not None:
            self._unanswered(state, call)
            state[0].add_event(
                "discourse.retry",
                {
                    "discourse.retry.wait_seconds": wait,
                    "discourse.retry.reason": kind,
                    "discourse.retry.number": call.retries,
                },
            )

    def on_wait(self, call: Call, seconds: float, reason: str, kind: WaitKind) -> None:
        """Record the wait; add a ``discourse.rate_limit.wait`` or ``.pause`` event."""
        if self._metering:
            self._waits.record(seconds, self._with(call, ("discourse.wait.kind", kind)))
        state = call.state.get(self)
        if state is not None:
            state[0].add_event(
                "discourse.rate_limit.pause" if kind == "pause" else "discourse.rate_limit.wait",
                {"discourse.wait.seconds": seconds, "discourse.wait.reason": reason},
            )

    def on_finish(self, call: Call, error: BaseException | None) -> None:
        """Close the operation's span with its outcome; count the budget slots the call took."""
        if self._metering and call.budget is not None and call.attempts:  # each attempt took one slot
            scope = (("discourse.rate_limit.scope", call.budget), ("discourse.rate_limit.store", call.store))
            attributes = self._attributes.get(scope)
            if attributes is None:
                attributes = self._attributes[scope] = dict(scope)
            self._taken.add(call.attempts, attributes)
        state = call.state.pop(self, None)
        if state is None:
            return
        span: Span = state[0]
        error_type = None
        if error is not None:
            status = getattr(error, "status_code", None)
            error_type = str(status) if isinstance(status, int) else type(error).__qualname__
        self._unanswered(state, call, error_type)
        if call.status_code is not None:
            span.set_attribute("http.response.status_code", call.status_code)
        if call.requests > 1:
            span.set_attribute("http.request.resend_count", call.requests - 1)
        if call.retries:
            span.set_attribute("discourse.retry_count", call.retries)
        if error_type is not None:
            span.set_attribute("error.type", error_type)
            span.set_status(self._trace.StatusCode.ERROR, type(error).__name__)
        span.end()

    def _unanswered(self, state: list[Any], call: Call, error_type: str | None = None) -> None:
        """Close the record of a request that got no answer: its span, or an event."""
        failure = type(call.error).__qualname__ if call.error is not None else (error_type or "no_response")
        if not self.request_spans:
            if state[1] is False:
                attributes: dict[str, Any] = {"error.type": failure}
                if call.requests > 1:
                    attributes["http.request.resend_count"] = call.requests - 1
                state[0].add_event("discourse.request", attributes)
                state[1] = True
            return
        request_span: Span | None = state[1]
        if request_span is None:
            return
        request_span.set_attribute("error.type", failure)
        request_span.set_status(self._trace.StatusCode.ERROR)
        request_span.end()
        state[1] = None


class AutoTelemetry(Telemetry):
    """A client's default: :class:`Telemetry` on the global providers, once the application has imported OpenTelemetry.

    An application that sets up an SDK imports ``opentelemetry.trace`` or ``.metrics`` to do so;
    one that never does has nothing to report to, and pays neither the import nor more than one
    look-up per call.
    """

    def __init__(self) -> None:
        self._ready = False

    def active(self) -> bool:
        """Whether a provider records anything (False until OpenTelemetry has been imported)."""
        if not self._ready:
            modules = sys.modules
            if "opentelemetry.trace" not in modules and "opentelemetry.metrics" not in modules:
                return False
            Telemetry.__init__(self)
            self._ready = True
        return Telemetry.active(self)


_UNSEEN: Any = object()


def _operation(call: Call) -> str:
    """The operation's name; ``request`` for ``dc.request()`` calls, whose paths may name users (and are many)."""
    return call.operation if call.route is not None else "request"


def _globals_holding(module: Any, name: str) -> dict[str, Any] | None:
    """The variables of ``module`` when it keeps ``name`` among them (else None: use the public getter)."""
    variables: dict[str, Any] | None = getattr(module, "__dict__", None)
    return variables if variables is not None and name in variables else None


def _proxy_meter_provider(metrics: Any) -> Any:
    """The API's stand-in meter provider (what ``get_meter_provider()`` gives while none is set)."""
    internal = getattr(metrics, "_internal", None)
    proxy = getattr(internal, "_PROXY_METER_PROVIDER", None)
    return proxy if proxy is not None else metrics.NoOpMeterProvider()
