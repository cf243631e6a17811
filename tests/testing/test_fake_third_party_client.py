"""A third-party client written for real Discourse (pydiscourse, from PyPI) drives the fake as a server.

The fake runs as users run it, ``python -m discourse_async.testing`` on a free port of 127.0.0.1, and
pydiscourse calls its usual routes: no ``.json`` suffix, ``/users/...``, slugged topic paths, legacy
routes. Every call must be served; the only 404 is the one asked for, and the fake logs no missing route.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pydiscourse = pytest.importorskip("pydiscourse")
from pydiscourse.exceptions import DiscourseClientError  # noqa: E402

CONNECT_SECRET = "a-connect-secret-for-tests"
FAKE_COMMAND = (sys.executable, "-m", "discourse_async.testing")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Path]]:
    """The fake as a subprocess: (base URL, admin API key, its stderr log)."""
    log = tmp_path_factory.mktemp("fake") / "stderr.log"
    with log.open("w") as err:
        proc = subprocess.Popen(
            [*FAKE_COMMAND, "--port", "0", "--discourse-connect-secret", CONNECT_SECRET],
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
        try:
            assert proc.stdout is not None
            url = re.search(r"at (http://\S+)", proc.stdout.readline())
            key = re.search(r"Admin API key: (\S+)", proc.stdout.readline())
            assert url and key, log.read_text()
            yield url.group(1), key.group(1), log
        finally:
            proc.terminate()
            proc.wait(timeout=30)
            if proc.stdout is not None:
                proc.stdout.close()


class Counting:
    """Counts the calls made through a pydiscourse client."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.client, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            return method(*args, **kwargs)

        return call


def test_pydiscourse_is_served(server: tuple[str, str, Path]) -> None:
    url, key, log = server
    dc = Counting(pydiscourse.DiscourseClient(url, api_username="system", api_key=key))

    # categories
    category = dc.create_category("Bot testing", "0088CC")["category"]
    assert any(c["id"] == category["id"] for c in dc.categories())
    assert dc.category(category["id"])["category"]["name"] == "Bot testing"

    # users: create (honeypot + POST /users), read by name and id, list
    created = dc.create_user("Alice Example", "alice", "alice@example.com", "a-long-password-1", active="true")
    assert created["success"] is True
    alice = dc.user("alice")
    assert alice["username"] == "alice"
    assert dc.user_by_id(alice["id"])["username"] == "alice"
    assert "alice" in [u["username"] for u in dc.list_users("active")]
    dc.create_user("Bob Example", "bob", "bob@example.com", "a-long-password-2", active="true")

    # a topic, a reply, and reading them back every way pydiscourse knows
    topic = dc.create_post(
        "A first post from pydiscourse, long enough.",
        category_id=category["id"],
        title="Created by a third-party client",
    )
    topic_id, slug = topic["topic_id"], topic["topic_slug"]
    reply = dc.create_post("A reply from pydiscourse to the topic above.", topic_id=topic_id)
    assert reply["post_number"] == 2
    view = dc.topic(slug, topic_id)
    assert [p["post_number"] for p in view["post_stream"]["posts"]] == [1, 2]
    assert len(dc.topic_posts(topic_id)["post_stream"]["posts"]) == 2
    assert dc.post(topic_id, 2)["id"] == topic_id
    assert dc.post_by_id(reply["id"])["raw"].startswith("A reply from pydiscourse")
    assert dc.post_by_number(topic_id, 2)["id"] == reply["id"]
    dc.update_post(reply["id"], "An edited reply from pydiscourse, still long.")
    assert dc.post_by_id(reply["id"])["raw"].startswith("An edited reply")
    assert any(t["id"] == topic_id for t in dc.latest_topics()["topic_list"]["topics"])
    assert [t["id"] for t in dc.topics_by("system")] == [topic_id]

    # topic status
    dc.update_topic_status(topic_id, "closed", True)
    assert dc.topic(slug, topic_id)["closed"] is True

    # groups: create, add members by id, list them
    group_id = dc.create_group("bot-testers", title="Tester")["basic_group"]["id"]
    dc.add_group_member(group_id, "alice")
    dc.add_user_to_group(group_id, dc.user("bob")["id"])
    assert dc.group("bot-testers")["group"]["name"] == "bot-testers"
    assert sorted(m["username"] for m in dc.group_members("bot-testers")) == ["alice", "bob"]
    assert "bot-testers" in [g["name"] for g in dc.groups()]

    # search
    found = dc.search("third-party")
    assert topic_id in [t["id"] for t in found["topics"]]

    # private messages
    dc.create_post(
        "A private message from pydiscourse to Alice.",
        title="A private message for Alice",
        archetype="private_message",
        target_recipients="alice",
    )
    assert [t["title"] for t in dc.private_messages("alice")["topic_list"]["topics"]] == ["A private message for Alice"]

    # DiscourseConnect sync
    synced = dc.sync_sso(
        sso_secret=CONNECT_SECRET, external_id="ext-7", email="carol@example.com", username="carol", name="Carol"
    )
    assert synced["username"] == "carol"

    # a 404, in Discourse's words
    with pytest.raises(DiscourseClientError) as missing:
        dc.topic("no-such-topic", 999999)
    assert missing.value.response.status_code == 404
    assert missing.value.response.json() == {
        "errors": ["The requested URL or resource could not be found."],
        "error_type": "not_found",
    }

    assert dc.calls >= 20
    assert "has no route" not in log.read_text()

    # a route the fake does not model: the same 404, and the log says what is missing
    with pytest.raises(DiscourseClientError) as unmodelled:
        dc.hot_topics()
    assert unmodelled.value.response.status_code == 404
    assert "fake Discourse has no route for GET /hot.json" in log.read_text()
