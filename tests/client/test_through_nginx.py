"""The client through a real nginx set up as discourse_docker sets it up (tests/nginx_proxy.py), in front of the fake.

Default settings (except credentials and the run's certificate): the proxy's per-IP limits are
met without a 429; with the client's limits off, 429s are waited out as a schedule and no call
fails; POST waves after idle gaps across nginx's 2 s keepalive_timeout neither fail nor repeat.
Outcomes are counted (nginx's access log, the fake's store), never timed.
"""

from __future__ import annotations

import asyncio
import collections

import pytest

from discourse_async import Discourse
from discourse_async.testing import FakeDiscourse
from tests.nginx_proxy import NGINX, OPENSSL, SKIP_REASON, nginx_proxy

pytestmark = pytest.mark.skipif(NGINX is None or OPENSSL is None, reason=SKIP_REASON)


def stored_tokens(fake: FakeDiscourse) -> collections.Counter[str]:
    return collections.Counter(
        post.raw.rsplit(" ", 1)[1] for post in fake.store.posts.values() if "token-" in getattr(post, "raw", "")
    )


async def test_default_settings_meet_discourses_nginx_without_a_429(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeDiscourse()
    (topic,) = fake.seed_topics(1)
    async with fake.serve() as upstream:
        with nginx_proxy(int(upstream.rsplit(":", 1)[1])) as proxy:
            monkeypatch.setenv("SSL_CERT_FILE", proxy.cert_file)
            async with Discourse(proxy.url, api_key=fake.admin_api_key, api_username="system") as dc:
                results = await asyncio.gather(
                    *(dc.topics.get_topic(id=str(topic.id)) for _ in range(10)), return_exceptions=True
                )
            statuses = proxy.statuses(at_least=10)
    assert [r for r in results if isinstance(r, BaseException)] == []
    assert statuses.count(200) == 10 and 429 not in statuses


async def test_with_limits_off_429s_are_a_schedule_not_failures(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeDiscourse()
    (topic,) = fake.seed_topics(1)
    async with fake.serve() as upstream:
        with nginx_proxy(int(upstream.rsplit(":", 1)[1]), zones=(("100r/s", 12),)) as proxy:
            monkeypatch.setenv("SSL_CERT_FILE", proxy.cert_file)
            async with Discourse(proxy.url, api_key=fake.admin_api_key, api_username="system", rate_limits=None) as dc:

                async def one(i: int) -> None:
                    if i % 5 == 0:
                        await dc.posts.create_post(topic_id=topic.id, raw=f"A reply long enough to keep. token-{i}")
                    else:
                        await dc.topics.get_topic(id=str(topic.id))

                results = await asyncio.gather(*(one(i) for i in range(300)), return_exceptions=True)
            statuses = proxy.statuses()
    assert [r for r in results if isinstance(r, BaseException)] == []  # default max_retries=2
    assert 429 in statuses  # the proxy did refuse some: they were waited out
    tokens = stored_tokens(fake)
    assert len(tokens) == 60 and max(tokens.values()) == 1


async def test_post_waves_across_nginxs_keepalive_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeDiscourse()
    (topic,) = fake.seed_topics(1)
    failures: list[str] = []
    sent = 0
    async with fake.serve() as upstream:
        with nginx_proxy(int(upstream.rsplit(":", 1)[1]), zones=(), keepalive="2s") as proxy:
            monkeypatch.setenv("SSL_CERT_FILE", proxy.cert_file)
            async with Discourse(proxy.url, api_key=fake.admin_api_key, api_username="system", rate_limits=None) as dc:
                await dc.topics.get_topic(id=str(topic.id))
                for wave, gap in enumerate((1.90, 1.95, 1.98, 2.0, 2.02, 2.05)):
                    await asyncio.sleep(gap)

                    async def post(i: int, wave: int = wave) -> None:
                        try:
                            await dc.posts.create_post(topic_id=topic.id, raw=f"A reply long enough. token-{wave}-{i}")
                        except Exception as exc:
                            failures.append(f"wave {wave}: {type(exc).__name__}: {exc}")

                    await asyncio.gather(*(post(i) for i in range(3)))
                    sent += 3
    assert failures == []
    tokens = stored_tokens(fake)
    assert len(tokens) == sent and max(tokens.values()) == 1
