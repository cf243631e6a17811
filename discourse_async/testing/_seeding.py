"""Seeding and inspecting the fake's state from a test, without going through HTTP."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterable, Iterator
from typing import Any

from discourse_async.testing import _backend as backend
from discourse_async.testing._s3 import S3Store


class Seeding:
    """The seeding and inspection half of :class:`FakeDiscourse`."""

    store: backend.Store
    s3: S3Store | None

    def create_api_key(self, username: str | None = None, description: str = "") -> str:
        """An admin API key: for one user, or for any user (``Api-Username`` picks) when None."""
        user = None if username is None else self.store.user(username)
        return self.store.create_api_key(user, description).key

    def revoke_api_key(self, key: str) -> None:
        """Revoke an admin or User API key."""
        found = self.store.api_keys.get(key) or self.store.user_api_keys.get(key)
        if found is None:
            raise KeyError("no such key")
        found.revoked = True

    def create_user_api_key(
        self,
        username: str,
        scopes: Iterable[str] = ("read", "write"),
        *,
        client_id: str | None = None,
        application_name: str = "test",
    ) -> str:
        """A User API key for a user (without the browser flow)."""
        user = self.store.user(username)
        key = self.store.create_user_api_key(
            user, scopes=scopes, client_id=client_id or f"client-{username}", application_name=application_name
        )
        return key.key

    def create_user(
        self,
        username: str,
        *,
        name: str | None = None,
        email: str | None = None,
        admin: bool = False,
        moderator: bool = False,
        trust_level: int = 1,
    ) -> backend.User:
        """Add an active user (no validation)."""
        return self.store.create_user(
            username,
            name=name or username.capitalize(),
            email=email,
            admin=admin,
            moderator=moderator,
            trust_level=trust_level,
        )

    def user(self, username: str) -> backend.User:
        """A user by username."""
        return self.store.user(username)

    def topic(self, topic_id: int) -> backend.Topic:
        """A topic by id."""
        return self.store.topics[topic_id]

    def post(self, post_id: int) -> backend.Post:
        """A post by id."""
        return self.store.posts[post_id]

    def create_category(self, name: str, *, staff_only: bool = False, parent: int | None = None) -> backend.Category:
        """Add a category (``staff_only`` makes it read-restricted to staff)."""
        return self.store.create_category(
            self.store.users[-1], name, parent_category_id=parent, permissions={"staff": 1} if staff_only else None
        )

    def _category_id(self, category: int | str | None) -> int | None:
        if category is None or isinstance(category, int):
            return category
        found = next((c for c in self.store.categories.values() if c.name.lower() == category.lower()), None)
        return found.id if found else self.create_category(category).id

    def seed_users(self, n: int, prefix: str = "user") -> list[backend.User]:
        """Add ``n`` users named ``<prefix>1``, ``<prefix>2``... (continuing after existing ones)."""
        start = sum(1 for name in self.store.users_by_name if name.startswith(prefix.lower())) + 1
        return [self.create_user(f"{prefix}{i}") for i in range(start, start + n)]

    def seed_topics(
        self,
        n: int,
        *,
        category: int | str | None = None,
        username: str = "system",
        tags: Iterable[str] = (),
        spacing: float = 1.0,
    ) -> list[backend.Topic]:
        """Add ``n`` topics, oldest first, ``spacing`` seconds apart and ending now (cheap: no notifications)."""
        author = self.store.user(username)
        category_id = self._category_id(category)
        now = self.store.now()
        start = len(self.store.topics) + 1
        tags = list(tags)
        topics = []
        with _no_gc():
            for i in range(n):
                number = start + i
                topic, _ = self.store.create_topic(
                    author,
                    f"Seeded topic number {number:05d} for testing",
                    f"This is the first post of seeded topic {number}.",
                    category_id=category_id,
                    tags=tags,
                    created_at=now - (n - 1 - i) * spacing,
                )
                topics.append(topic)
        return topics

    def seed_posts(
        self, topic_id: int, n: int, *, username: str | None = None, spacing: float = 0.001
    ) -> list[backend.Post]:
        """Add ``n`` replies to a topic (a 1,234-post topic takes milliseconds)."""
        topic = self.store.topics[topic_id]
        author = self.store.user(username) if username else self.store.users[topic.user_id]
        start = topic.posts[-1].created_at if topic.posts else self.store.now()
        base = topic.highest_post_number
        with _no_gc():
            return [
                self.store.create_reply(
                    author,
                    topic,
                    f"Seeded reply number {base + i + 1} in this topic.",
                    created_at=start + (i + 1) * spacing,
                )
                for i in range(n)
            ]

    def seed_groups(self, n: int, prefix: str = "group", *, members: Iterable[str] = ()) -> list[backend.Group]:
        """Add ``n`` custom groups named ``<prefix>-0001``..., each with the given members."""
        users = [self.store.user(name) for name in members]
        now = self.store.now()
        start = sum(1 for g in self.store.groups.values() if g.name.startswith(prefix)) + 1
        groups = []
        for i in range(start, start + n):
            group = backend.Group(id=self.store.next_id("group"), name=f"{prefix}-{i:04d}", created_at=now)
            group.members = {u.id: backend.Membership(added_at=now) for u in users}
            self.store.groups[group.id] = group
            groups.append(group)
        self.store.changed()
        return groups

    def add_group_members(self, group_name: str, usernames: Iterable[str], *, owner: bool = False) -> None:
        """Put users in a custom group."""
        group = next(g for g in self.store.groups.values() if g.name == group_name)
        for name in usernames:
            group.members[self.store.user(name).id] = backend.Membership(added_at=self.store.now(), owner=owner)
        self.store.changed()

    def seed_notifications(self, username: str, n: int) -> list[backend.Notification]:
        """Give a user ``n`` "custom" notifications."""
        user = self.store.user(username)
        return [self.store.notify(user, "custom", data={"message": f"seeded notification {i + 1}"}) for i in range(n)]

    def grant_badge(self, username: str, badge_name: str) -> None:
        """Grant a badge by name (as an admin would)."""
        badge = next(b for b in self.store.badges.values() if b.name == badge_name)
        self.store.grant_badge(self.store.user(username), badge, self.store.users[-1])

    def add_event(
        self, post_id: int, name: str, starts_at: float, ends_at: float | None = None, **fields: Any
    ) -> backend.Event:
        """Attach a calendar event (discourse-post-event plugin) to a post."""
        if post_id not in self.store.posts:
            raise KeyError(f"no post {post_id}")
        event = backend.Event(
            id=self.store.next_id("event"), post_id=post_id, name=name, starts_at=starts_at, ends_at=ends_at, **fields
        )
        self.store.events[event.id] = event
        return event

    def read_upload(self, upload_id: int) -> bytes:
        """The stored bytes of an upload (from memory or the S3 bucket)."""
        upload = self.store.uploads[upload_id]
        if upload.data is not None:
            return upload.data
        if self.s3 is None or upload.s3_key is None:
            raise KeyError(f"upload {upload_id} has no stored bytes")
        return self.s3.read(upload.s3_key)

    @property
    def emails(self) -> list[Any]:
        """Emails the site "sent" (password resets, invites, backup links) with their tokens."""
        return self.store.emails


@contextlib.contextmanager
def _no_gc() -> Iterator[None]:
    """Pause the cyclic GC while seeding: creating 100,000 records otherwise triggers it thousands of times."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
