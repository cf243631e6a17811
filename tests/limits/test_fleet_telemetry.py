"""Two workers sharing one budget in Redis report their use of it through OpenTelemetry: summed,
the fleet's use of the site's budget."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from discourse_async import RateLimit
from tests.redis_server import REDIS_SERVER, SKIP_REASON, RedisProcess, redis_server

pytest.importorskip("redis")
pytest.importorskip("opentelemetry.sdk")
pytest.importorskip("starlette")

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from discourse_async.redis_store import RedisStore
from discourse_async.telemetry import Telemetry
from discourse_async.testing import FakeDiscourse

pytestmark = pytest.mark.skipif(REDIS_SERVER is None, reason=SKIP_REASON)


@pytest.fixture
def server() -> Iterator[RedisProcess]:
    with redis_server() as process:
        yield process


async def test_the_fleets_use_of_a_shared_budget_is_the_sum_of_its_workers(server: RedisProcess) -> None:
    fake = FakeDiscourse()
    fake.create_user("alice")
    readers = [InMemoryMetricReader(), InMemoryMetricReader()]
    stores = [RedisStore(server.url), RedisStore(server.url)]
    workers = [
        fake.client(
            "alice",
            rate_limits=[RateLimit(1000, 60)],
            rate_limit_store=store,
            telemetry=Telemetry(meter_provider=MeterProvider(metric_readers=[reader])),
        )
        for store, reader in zip(stores, readers, strict=True)
    ]
    await asyncio.gather(*(w.site.get_site() for w in workers for _ in range(7)))
    await workers[1].site.get_site()
    taken: list[tuple[dict[str, object], int]] = []
    for reader in readers:
        data = reader.get_metrics_data()
        assert data is not None
        for resource in data.resource_metrics:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    if metric.name == "discourse.client.rate_limit.taken":
                        taken += [(dict(p.attributes or {}), p.value) for p in metric.data.data_points]
    assert [attributes for attributes, _ in taken] == [
        {"discourse.rate_limit.scope": "admin", "discourse.rate_limit.store": "RedisStore"}
    ] * 2
    assert [value for _, value in taken] == [7, 8]
    assert sum(value for _, value in taken) == len(fake.requests) == 15
    for worker in workers:
        await worker.aclose()
    for store in stores:
        await store.aclose()
