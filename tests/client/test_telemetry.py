"""OpenTelemetry over the fake on a real socket, with each engine: spans, events and metrics of
retries, a 429 pause, a budget wait and a redirect, read back from the SDK's in-memory exporters.

Time is the test's: the client's clock and the fake's move together when the client sleeps, so
waits of seconds cost none and nothing depends on how fast this machine is.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk")
pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from discourse_async import Discourse, RateLimit
from discourse_async.telemetry import Telemetry
from discourse_async.testing import FakeDiscourse, ManualClock

ENGINES = ["builtin", "httpx", "aiohttp"]


class SharedClock:
    """The client's clock: sleeping moves the fake's clock too, at once."""

    def __init__(self, fake_clock: ManualClock) -> None:
        self.fake_clock = fake_clock
        self.t = 1000.0
        self.slept: list[float] = []

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += seconds
        self.fake_clock.advance(seconds)
        await asyncio.sleep(0)


@dataclass
class Otel:
    spans: InMemorySpanExporter
    metrics: InMemoryMetricReader
    tracer_provider: TracerProvider
    meter_provider: MeterProvider

    def telemetry(self, **options: Any) -> Telemetry:
        return Telemetry(tracer_provider=self.tracer_provider, meter_provider=self.meter_provider, **options)

    def finished(self) -> list[ReadableSpan]:
        return list(self.spans.get_finished_spans())

    def points(self) -> dict[str, list[Any]]:
        """Metric name -> its data points."""
        data = self.metrics.get_metrics_data()
        found: dict[str, list[Any]] = {}
        for resource in data.resource_metrics if data else []:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    found.setdefault(metric.name, []).extend(metric.data.data_points)
        return found


@pytest.fixture
def otel() -> Otel:
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    reader = InMemoryMetricReader()
    return Otel(spans, reader, tracer_provider, MeterProvider(metric_readers=[reader]))


@pytest.fixture
async def served() -> AsyncIterator[tuple[FakeDiscourse, str, ManualClock]]:
    clock = ManualClock()
    fake = FakeDiscourse(clock=clock)
    fake.create_user("alice")
    fake.seed_topics(2)
    async with fake.serve() as url:
        yield fake, url, clock


def children(spans: list[ReadableSpan], parent: ReadableSpan) -> list[ReadableSpan]:
    assert parent.context is not None
    found = [s for s in spans if s.parent is not None and s.parent.span_id == parent.context.span_id]
    return sorted(found, key=lambda s: s.start_time or 0)


def one(spans: list[ReadableSpan], name: str) -> ReadableSpan:
    found = [s for s in spans if s.name == name]
    assert len(found) == 1, [s.name for s in spans]
    return found[0]


def attributes_of(item: Any) -> dict[str, Any]:
    return dict(item.attributes or {})


def requests_of(spans: list[ReadableSpan], call: ReadableSpan, request_spans: bool) -> list[dict[str, Any]]:
    """What the trace says of each HTTP request of ``call``: child spans, or events and the span itself."""
    if request_spans:
        return [{"name": s.name, **attributes_of(s)} for s in children(spans, call)]
    assert children(spans, call) == []
    earlier = [attributes_of(e) for e in call.events if e.name == "discourse.request"]
    final = attributes_of(call)
    last = {k: final[k] for k in ("http.response.status_code", "http.request.resend_count", "error.type") if k in final}
    return [*earlier, last]


@pytest.mark.parametrize("request_spans", [False, True], ids=["events", "request-spans"])
@pytest.mark.parametrize("engine", ENGINES)
async def test_spans_events_and_metrics_of_retries_a_pause_a_budget_wait_and_a_redirect(
    served: tuple[FakeDiscourse, str, ManualClock], otel: Otel, engine: str, request_spans: bool
) -> None:
    fake, url, fake_clock = served
    clock = SharedClock(fake_clock)
    telemetry = otel.telemetry(request_spans=request_spans)
    topic = next(iter(fake.store.topics.values()))
    topic.external_id = "ext-1"
    caller = otel.tracer_provider.get_tracer("a bot")

    def client(**options: Any) -> Discourse:
        options.setdefault("max_retries", 3)
        return fake.client("alice", base_url=url, engine=engine, telemetry=telemetry, clock=clock, **options)

    async with client() as dc:
        assert dc.engine == engine
        # A retry: a proxy's 502 once, then the topic.
        fake.add_fault("GET", f"/t/{topic.id}.json", status=502, times=1)
        with caller.start_as_current_span("handle a webhook"):
            await dc.topics.get_topic(id=str(topic.id))
        # A redirect: external ids answer 301 to the topic's URL.
        await dc.topics.get_topic_by_external_id(external_id="ext-1")
    # A 429 for every admin key: the call pauses the site's requests for Retry-After, then retries.
    rule = fake.set_rate_limit(1, 10, scope="admin")
    async with client() as dc:
        await dc.site.get_site()
        await dc.site.get_site()
    assert rule.refused == 1
    fake.clear_rate_limits()
    # A budget wait: one request per 60 s on the client's side.
    async with client(rate_limits=[RateLimit(1, 60)]) as dc:
        await dc.site.get_site()
        await dc.site.get_site()

    spans = otel.finished()
    # --- the retried call: a child of the caller's span, each request in the trace
    handler = one(spans, "handle a webhook")
    calls = [s for s in children(spans, handler) if s.name.startswith("discourse ")]
    assert [s.name for s in calls] == ["discourse topics.get_topic"]
    call = calls[0]
    attrs = attributes_of(call)
    assert attrs["http.request.method"] == "GET"
    assert attrs["url.template"] == "/t/{id}.json"
    assert attrs["server.address"] == "127.0.0.1"
    assert attrs["server.port"] == int(url.rsplit(":", 1)[1])
    assert attrs["http.response.status_code"] == 200
    assert attrs["discourse.retry_count"] == 1
    assert attrs["http.request.resend_count"] == 1
    assert "error.type" not in attrs
    requests = requests_of(spans, call, request_spans)
    assert [r["http.response.status_code"] for r in requests] == [502, 200]
    assert requests[0]["error.type"] == "502"
    assert requests[1]["http.request.resend_count"] == 1
    assert "http.request.resend_count" not in requests[0]
    if request_spans:
        assert [r["name"] for r in requests] == ["GET /t/{id}.json", "GET /t/{id}.json"]
    retry = [attributes_of(e) for e in call.events if e.name == "discourse.retry"]
    assert [(r["discourse.retry.reason"], r["discourse.retry.number"]) for r in retry] == [("502", 1)]

    # --- the redirect: one attempt, two requests
    redirected = one(spans, "discourse topics.get_topic_by_external_id")
    hops = requests_of(spans, redirected, request_spans)
    assert [r["http.response.status_code"] for r in hops] == [301, 200]
    assert hops[1]["http.request.resend_count"] == 1
    assert "discourse.retry_count" not in attributes_of(redirected)
    if request_spans:  # the second request is not the route's URL
        assert [r["name"] for r in hops] == ["GET /t/external_id/{external_id}.json", "GET"]
        assert "url.template" not in hops[1]

    # --- the 429: a pause event with its seconds and reason, and a retry
    site_calls = [s for s in spans if s.name == "discourse site.get_site"]
    assert len(site_calls) == 4
    paused = [s for s in site_calls if any(e.name == "discourse.rate_limit.pause" for e in s.events)]
    assert len(paused) == 1
    pause = attributes_of(next(e for e in paused[0].events if e.name == "discourse.rate_limit.pause"))
    assert pause["discourse.wait.seconds"] == 10
    assert "429" in pause["discourse.wait.reason"]
    assert [r["http.response.status_code"] for r in requests_of(spans, paused[0], request_spans)] == [429, 200]

    # --- the budget wait: an event naming the budget and the option that changes it
    waited = [s for s in site_calls if any(e.name == "discourse.rate_limit.wait" for e in s.events)]
    assert len(waited) == 1
    wait = attributes_of(next(e for e in waited[0].events if e.name == "discourse.rate_limit.wait"))
    assert wait["discourse.wait.seconds"] == pytest.approx(60)  # virtual time: the whole window
    assert "1 per 60s" in wait["discourse.wait.reason"]
    assert "rate_limits=" in wait["discourse.wait.reason"]

    # --- metrics from the same places
    points = otel.points()
    durations = points["http.client.request.duration"]
    statuses = sorted(p.attributes["http.response.status_code"] for p in durations)
    assert statuses == [200, 200, 200, 301, 429, 502]  # a series per operation and status
    assert sum(p.count for p in durations) == 9  # 2 (502, 200) + 2 (301, 200) + 3 (200, 429, 200) + 2
    by_status = {p.attributes["http.response.status_code"]: p for p in durations if "error.type" in p.attributes}
    assert by_status[502].attributes["error.type"] == "502"
    assert by_status[502].attributes["discourse.operation"] == "get_topic"
    assert by_status[502].attributes["url.template"] == "/t/{id}.json"
    retries = {p.attributes["discourse.retry.reason"]: p.value for p in points["discourse.client.retries"]}
    assert retries == {"502": 1, "429": 1}
    waits = {p.attributes["discourse.wait.kind"]: p for p in points["discourse.client.wait.duration"]}
    assert waits["pause"].sum == 10
    assert waits["budget"].sum == pytest.approx(60)
    taken = points["discourse.client.rate_limit.taken"]
    assert [(p.attributes["discourse.rate_limit.scope"], p.value) for p in taken] == [("admin", 2)]


@pytest.mark.parametrize("request_spans", [False, True], ids=["events", "request-spans"])
async def test_no_key_body_query_or_username_is_exported_unless_usernames_are_asked_for(
    served: tuple[FakeDiscourse, str, ManualClock], otel: Otel, request_spans: bool
) -> None:
    fake, url, _ = served
    fake.create_user("bob")
    secret_raw = "A body that must never reach a span: the launch code is 0000."
    telemetry = otel.telemetry(request_spans=request_spans)
    async with fake.client("alice", base_url=url, telemetry=telemetry, max_retries=2) as dc:
        fake.add_fault("POST", "/posts.json", status=503, times=1)  # a write is not retried after a 503...
        with pytest.raises(Exception, match="503"):
            await dc.posts.create_post(title="A title nobody may export", raw=secret_raw, category=2)
        post = await dc.posts.create_post(title="A title nobody may export", raw=secret_raw, category=2)
        await dc.users.get_user(username="bob")  # a path that names a user
        await dc.request("GET", "/u/bob.json", params={"launch": "code"})  # a raw call's path and query
        await dc.search.search(q="launch code")  # a query string
        await dc.with_options(api_username="bob").topics.get_topic(id=str(post.topic_id))
        with pytest.raises(Exception, match="404"):
            await dc.topics.get_topic(id="999999")
    exported = json.dumps([json.loads(s.to_json()) for s in otel.finished()])
    exported += otel.metrics.get_metrics_data().to_json()  # type: ignore[union-attr]
    for secret in (fake.admin_api_key, secret_raw, "launch code", "launch+code", "nobody may export", "bob", "alice"):
        assert secret not in exported, secret
    assert "server.address" in exported  # the check above looked at real exports
    assert '"discourse request"' in exported and '"discourse.operation": "request"' in exported

    otel.spans.clear()
    async with fake.client("alice", base_url=url, telemetry=otel.telemetry(record_usernames=True)) as dc:
        await dc.with_options(api_username="bob").site.get_site()
        await dc.site.get_site()
    users = [(s.attributes or {}).get("user.name") for s in otel.finished() if s.name.startswith("discourse ")]
    assert users == ["bob", "alice"]
    assert fake.admin_api_key not in json.dumps([json.loads(s.to_json()) for s in otel.finished()])


async def test_the_global_providers_are_used_and_the_api_alone_costs_no_span(
    served: tuple[FakeDiscourse, str, ManualClock],
) -> None:
    fake, url, _ = served
    telemetry = Telemetry()  # the global providers: none set in this process
    assert telemetry.active() is False
    seen: list[str] = []

    from discourse_async.hooks import Hooks

    class Spy(Hooks):
        def on_start(self, call: Any) -> None:
            seen.append(call.name)

    async with fake.client(base_url=url, telemetry=telemetry) as dc:
        await dc.site.get_site()
    async with fake.client(base_url=url, telemetry=telemetry, hooks=[Spy()]) as dc:
        await dc.site.get_site()
    assert seen == ["site.get_site"]  # hooks still run; the inactive telemetry is left out


def test_by_default_a_client_reports_once_the_application_imports_opentelemetry() -> None:
    # A fresh interpreter: the API is installed; the application sets up the SDK only later.
    script = """
import sys, asyncio
from discourse_async.testing import FakeDiscourse

async def main():
    fake = FakeDiscourse()
    async with fake.client() as dc:
        await dc.site.get_site()
        assert not [m for m in sys.modules if m.startswith("opentelemetry")], "imported before it was needed"

        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

        spans = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(spans))
        trace.set_tracer_provider(provider)
        with trace.get_tracer("the bot").start_as_current_span("a job"):
            await dc.site.get_site()
    print(sorted(s.name for s in spans.get_finished_spans()))

asyncio.run(main())
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 0, done.stderr
    assert "['a job', 'discourse site.get_site']" in done.stdout


def test_bad_telemetry_and_hooks_options_are_refused() -> None:
    with pytest.raises(TypeError, match="telemetry="):
        Discourse("https://forum.example", telemetry="yes")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="lacks on_start, on_request"):
        Discourse("https://forum.example", hooks=[object()])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="a list of Hooks"):
        Discourse("https://forum.example", hooks=Telemetry())  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="on_wait"):
        Discourse("https://forum.example", on_wait="print")  # type: ignore[arg-type]


def test_nothing_of_opentelemetry_is_imported_when_the_api_is_absent() -> None:
    # A fresh interpreter where `opentelemetry` cannot be imported, as when the extra is not installed.
    script = """
import sys, asyncio, importlib.abc

class NoOtel(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "opentelemetry" or name.startswith("opentelemetry."):
            raise ModuleNotFoundError(name)
        return None

sys.meta_path.insert(0, NoOtel())
import httpx
from discourse_async import Discourse

def handler(request):
    return httpx.Response(200, json={"ok": True})

async def main():
    async with Discourse("https://forum.example", transport=httpx.MockTransport(handler)) as dc:
        assert dc._path.telemetry is None
        assert await dc.request("GET", "/x.json") == {"ok": True}

asyncio.run(main())
from discourse_async.telemetry import Telemetry
try:
    Discourse("https://forum.example", telemetry=True)
except ImportError as exc:
    assert "pip install 'discourse-async[otel]'" in str(exc), exc
else:
    raise AssertionError("telemetry=True without the API did not raise")
loaded = sorted(m for m in sys.modules if m.startswith("opentelemetry"))
print("loaded:", loaded)
assert not loaded, loaded
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 0, done.stderr
    assert "loaded: []" in done.stdout
