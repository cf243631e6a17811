"""A tour of discourse-async: a conversation on a forum, through the public client only.

    python examples/tour.py          # starts a fake Discourse (and an S3 server if moto is installed) on 127.0.0.1
    DISCOURSE_URL=https://forum.example.com DISCOURSE_API_KEY=... DISCOURSE_API_USERNAME=you \\
        python examples/tour.py      # the same tour against a real forum

Against a real forum it posts a handful of things under DISCOURSE_API_USERNAME (set
DISCOURSE_SECOND_USERNAME to have someone like a post, DISCOURSE_PM_RECIPIENT for the message).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from typing import Any

from discourse_async import APIStatusError, Discourse

PNG_1X1 = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8ffff3f0005fe02fea7d6a4ea0000000049454e44ae426082"
)


def say(text: str) -> None:
    print(f"  - {text}", flush=True)


async def tour(url: str, api_key: str, username: str, *, fake_site: bool, s3: bool = False) -> None:
    """Walk through the main things a bot does, printing each step."""
    stamp = time.strftime("%H:%M:%S")
    print(f"Tour of {url} as {username}", flush=True)
    async with Discourse(url, api_key=api_key, api_username=username) as dc:
        info = await dc.site.get_site_basic_info()
        say(f"site: {info.title!r}")
        second = os.environ.get("DISCOURSE_SECOND_USERNAME")
        recipient = os.environ.get("DISCOURSE_PM_RECIPIENT", "system")
        if fake_site:
            for name in ("alice", "bob"):
                made = await dc.users.create_user(
                    name=name.capitalize(),
                    email=f"{name}@example.com",
                    password="correct horse battery",
                    username=name,
                    active=True,
                )
                say(f"created user {name} (id {made.user_id})")
            author, second, recipient = "alice", "bob", "bob"
        else:
            author = username
        async with Discourse(url, api_key=api_key, api_username=author) as as_author:
            category = (await dc.categories.create_category(name=f"Tour {stamp}", color="0E76BD")).category
            say(f"created category {category.name!r} (id {category.id})")
            first = await as_author.posts.create_post(
                title=f"What can discourse-async do? ({stamp})",
                raw="Let's find out: this topic was written by examples/tour.py.",
                category=category.id,
                extra_body={"tags": ["tour"]},
            )
            say(f"{author} created topic {first.topic_id} ({first.topic_slug})")
            replier = Discourse(url, api_key=api_key, api_username=second or author)
            async with replier:
                replies = 22 if fake_site else 2
                for n in range(1, replies + 1):
                    reply = await replier.posts.create_post(
                        topic_id=first.topic_id,
                        raw=f"Reply number {n}: it speaks the whole API.",
                        reply_to_post_number=1 if n == 1 else None,
                    )
                say(f"{second or author} posted {replies} replies (last is post #{reply.post_number})")
                if second:
                    await replier.posts.like(first.id)
                    say(f"{second} liked post {first.id}")
                else:
                    say("(skipped the like: set DISCOURSE_SECOND_USERNAME to like as someone else)")
            topic = await dc.topics.get_topic(id=str(first.topic_id))
            say(
                f"read topic back: {topic.title!r}, {topic.posts_count} posts, first chunk of "
                f"{len(topic.post_stream.posts)}, stream of {len(topic.post_stream.stream or [])} ids"
            )
            numbers = [p.post_number async for p in dc.topics.iter_posts(first.topic_id)]
            say(f"iter_posts walked all {len(numbers)} posts ({numbers[0]}..{numbers[-1]})")
            latest = await dc.topics.list_latest_topics()
            say(f"latest: {[t.title for t in latest.topic_list.topics[:3]]}")
            count = 0
            async for _ in dc.topics.iter_latest(max_items=200):
                count += 1
            say(f"iter_latest listed {count} topic{'' if count == 1 else 's'}")
            found = await dc.search.search(q="speaks the whole API")
            say(f"search found {len(found.posts or [])} posts")
            pm = await as_author.posts.create_post(
                title=f"A private word ({stamp})",
                raw="This message is only for the two of us.",
                archetype="private_message",
                target_recipients=recipient,
            )
            say(f"{author} sent a private message to {recipient} (topic {pm.topic_id})")
            notes = await as_author.notifications.list_notifications()
            say(
                f"{author} has {notes.total_rows_notifications} notifications: "
                f"types {[n.notification_type for n in notes.notifications[:5]]}"
            )
            await upload(dc, big=s3)
    print("Tour complete.", flush=True)


async def upload(dc: Discourse, *, big: bool) -> None:
    """Upload a file: 20 MiB through S3 multipart when the site has direct uploads, else a small PNG."""
    uploads: Any = dc.uploads
    if not hasattr(uploads, "upload"):
        say("(skipped the upload: this version of the client has no uploads.upload)")
        return
    data = os.urandom(20 * 1024 * 1024) if big else PNG_1X1
    shown = [-1]

    def progress(sent: int, total: int) -> None:
        percent = 100 * sent // total if total else 100
        if percent // 25 > shown[0]:
            shown[0] = percent // 25
            say(f"upload progress: {sent}/{total} bytes ({percent}%)")

    record = await uploads.upload(data, filename="tour.bin" if big else "tour.png", on_progress=progress)
    say(f"uploaded {record.original_filename} ({record.human_filesize}) -> {record.short_url}")


def main() -> int:
    """Run the tour against DISCOURSE_URL, or against a fake Discourse started here."""
    url, key = os.environ.get("DISCOURSE_URL"), os.environ.get("DISCOURSE_API_KEY")
    username = os.environ.get("DISCOURSE_API_USERNAME")
    try:
        if url and key and username:
            asyncio.run(tour(url, key, username, fake_site=False))
            return 0
        from discourse_async.testing import FakeDiscourse, S3Server

        with contextlib.ExitStack() as stack:
            try:
                s3: S3Server | None = stack.enter_context(S3Server())
            except ImportError:  # no moto: a site without direct S3 uploads
                s3 = None
            fake = FakeDiscourse(s3=s3)
            site = stack.enter_context(fake.run_in_thread())
            print(f"Started a fake Discourse at {site}" + (f" with S3 at {s3.endpoint_url}" if s3 else ""))
            asyncio.run(tour(site, fake.admin_api_key, "system", fake_site=True, s3=s3 is not None))
        return 0
    except APIStatusError as exc:
        print(f"Tour failed: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
