"""A bot that listens to Discourse webhooks and answers when it is mentioned.

    python examples/webhook_bot.py             # self-contained: starts a fake Discourse, shows one round trip
    python examples/webhook_bot.py --serve     # a real forum: DISCOURSE_URL, DISCOURSE_API_KEY,
                                               # DISCOURSE_WEBHOOK_SECRET set; listens on --port for
                                               # the webhook you create in Admin > API > Webhooks

The bot verifies every delivery's signature (discourse_async.webhooks), answers Discourse at once,
and replies in the background through the client (discourse_async.Discourse), so a slow reply never
makes Discourse's webhook delivery time out. It ignores its own posts, so it cannot talk to itself.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
from collections.abc import AsyncIterator

import uvicorn

from discourse_async import Discourse
from discourse_async.webhooks import WebhookApp, WebhookEvent

BOT = "helperbot"


def make_bot(dc: Discourse, secret: str, replies: list[int]) -> WebhookApp:
    """The webhook app: one handler, for new posts."""
    hooks = WebhookApp(secret=secret)
    background: set[asyncio.Task[None]] = set()

    async def reply(topic_id: int, username: str) -> None:
        post = await dc.posts.create_post(topic_id=topic_id, raw=f"Hello @{username}! I am {BOT}, and I heard you.")
        replies.append(post.id)
        print(f"  {BOT} replied in topic {topic_id} (post {post.id})")

    @hooks.on("post_created")
    async def on_post(event: WebhookEvent) -> None:
        post = event.post
        if post is None or post.username == BOT or f"@{BOT}" not in (post.raw or ""):
            return
        print(f"  webhook {event.event} #{event.event_id}: @{post.username} mentioned {BOT} in topic {post.topic_id}")
        task = asyncio.create_task(reply(int(post.topic_id or 0), post.username or "there"))
        background.add(task)
        task.add_done_callback(background.discard)

    return hooks


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def serve(app: WebhookApp, port: int) -> AsyncIterator[str]:
    """The bot's webhook endpoint on 127.0.0.1 while the block runs."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers a flag, not an event
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}/discourse-webhooks"
    finally:
        server.should_exit = True
        await task


async def demo() -> None:
    from discourse_async.testing import FakeDiscourse

    secret = "a-webhook-secret-for-the-demo"
    fake = FakeDiscourse()
    fake.create_user(BOT)
    fake.create_user("alice")
    replies: list[int] = []
    async with (
        fake.serve() as forum,
        fake.client(BOT, base_url=forum) as bot_client,
        serve(make_bot(bot_client, secret, replies), free_port()) as hook_url,
    ):
        fake.add_webhook(hook_url, secret, events=["post_created"])
        print(f"Fake Discourse at {forum}; the bot listens at {hook_url}")
        async with fake.client("alice", base_url=forum) as alice:
            topic = await alice.posts.create_post(
                title="Is there a bot around here?", raw=f"Hey @{BOT}, are you listening?", category=2
            )
            print(f"  alice asked in topic {topic.topic_id}")
            for _ in range(200):
                if replies:
                    break
                await asyncio.sleep(0.05)
        fake.add_webhook(hook_url, "a-wrong-secret", events=["post_created"])
        async with fake.client("alice", base_url=forum) as alice:
            await alice.posts.create_post(topic_id=topic.topic_id, raw=f"Thanks @{BOT}, that was quick!")
        await asyncio.sleep(0.3)
    print(f"Done: the bot replied {len(replies)} times; the delivery signed with a wrong secret was refused.")
    if len(replies) != 2:
        raise SystemExit("the bot did not answer both mentions")


async def run_server(port: int) -> None:
    secret = os.environ["DISCOURSE_WEBHOOK_SECRET"]
    async with Discourse(
        os.environ["DISCOURSE_URL"],
        api_key=os.environ["DISCOURSE_API_KEY"],
        api_username=os.environ.get("DISCOURSE_API_USERNAME", BOT),
    ) as dc:
        server = uvicorn.Server(uvicorn.Config(make_bot(dc, secret, []), host="0.0.0.0", port=port))
        await server.serve()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--serve", action="store_true", help="run the bot for a real forum (see above)")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args()
    asyncio.run(run_server(args.port) if args.serve else demo())


if __name__ == "__main__":
    main()
