"""A small bot written from the README, type-checked with ``mypy --strict`` by tests/models/test_typing.py.

It reads the latest topics, walks a topic's posts, reads a user and replies: ordinary code that
must need no casts, no ignore comments and no checks for absent fields the models promise.
"""

from __future__ import annotations

import datetime

from discourse_async import Discourse
from discourse_async.models import Post, TopicListItem, User


def describe(post: Post) -> str:
    """One line about a post: who, when, and the start of what they wrote."""
    when: datetime.datetime = post.created_at
    return f"#{post.post_number} by {post.username.upper()} on {when:%Y-%m-%d}: {(post.raw or post.cooked)[:30]}"


def busiest(topics: list[TopicListItem]) -> TopicListItem | None:
    """The topic with the most posts."""
    return max(topics, key=lambda t: t.posts_count, default=None)


async def run(dc: Discourse) -> None:
    """Read, walk, look up, reply."""
    latest = await dc.topics.list_latest_topics()
    topic = busiest(latest.topic_list.topics)
    if topic is None:
        return
    print(topic.title.upper(), topic.created_at.isoformat())
    async for post in dc.topics.iter_posts(topic.id):
        reveal_type(post)  # noqa: F821 - mypy's, read by tests/models/test_typing.py
        reveal_type(post.raw)  # noqa: F821
        reveal_type(post.username)  # noqa: F821
        reveal_type(post.created_at)  # noqa: F821
        print(describe(post))
    profile = await dc.users.get_user(username="sam")
    user: User = profile.user
    print(user.username, user.avatar_template, f"{user.created_at:%Y}")
    async for row in dc.users.iter_directory(period="weekly", max_items=10):
        print(row.user.username.upper(), row.likes_received or 0)
    first_unread = await anext(dc.topics.iter_latest(), None)
    print(first_unread.title if first_unread else "nothing new")
    reply = await dc.posts.create_post(topic_id=topic.id, raw="Thanks, this was a good read!")
    print(reply.id, reply.post_number, describe(reply))
    first = await dc.posts.get_post(id=str(reply.id))
    print(describe(first))
