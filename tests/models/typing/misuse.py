"""Mistakes a user's ``mypy --strict`` must catch, each on a line marked ``# expect: <error code>``.

tests/models/test_typing.py runs mypy on this file and compares the errors with the marks: every marked
line fails with that code, and no unmarked line fails (the correct calls beside them pass).
"""

from __future__ import annotations

from discourse_async import Discourse, PostActionType


async def calls(dc: Discourse) -> None:
    """Right and wrong calls, side by side."""
    await dc.posts.create_post(topic_id=1, raw="A reply that is long enough to post.")
    await dc.posts.create_post(topik_id=1, raw="A reply that is long enough to post.")  # expect: call-arg
    await dc.posts.create_post(topic_id="one", raw="A reply that is long enough to post.")  # expect: arg-type
    await dc.posts.create_post(topic_id=1)  # expect: call-arg
    await dc.topics.list_top_topics(period="weekly")
    await dc.topics.list_top_topics(period="fortnightly")  # expect: arg-type
    async for topic in dc.topics.iter_top(period="monthly"):
        print(topic.title)
    async for topic in dc.topics.iter_top(period="sometimes"):  # expect: arg-type
        print(topic.title)
    await dc.users.list_directory(period="all", order="likes_received")
    await dc.users.list_directory(period="all", order="karma")  # expect: arg-type
    await dc.topics.get_topic(id=42)
    await dc.topics.get_topic(id=42.5)  # expect: arg-type
    await dc.posts.flag(7, reason=PostActionType.SPAM)
    await dc.posts.flag(7, reason="spam")  # expect: arg-type
    await dc.posts.update_post(id=7, post={"raw": "The corrected text.", "edit_reason": "typo"})
    await dc.posts.update_post(id=7, post={"raw": "The corrected text.", "edit_reasn": "typo"})  # expect: arg-type
    await dc.groups.create_group(group={"name": "helpers", "visibility_level": 2})
    await dc.groups.create_group(group={"name": "helpers", "visibility_level": 9})  # expect: arg-type
    await dc.topics.update_topic_status(1, status="closed", enabled="true")
    await dc.topics.update_topic_status(1, status="closd", enabled="true")  # expect: arg-type
    post = await dc.posts.get_post(id=7)
    print(post.raw.upper())  # expect: union-attr
    print(post.username.upper(), (post.raw or "").upper())
