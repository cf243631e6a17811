"""An in-memory Discourse for tests and demos: what ``moto`` is to AWS code, for Discourse bots.

``FakeDiscourse`` is an ASGI application with the state of a small forum, Discourse's response
shapes, pagination rules, errors and auth, plus test controls (rate limits in all three 429 shapes,
injected faults, a request log, webhooks, S3 direct uploads against a moto server)::

    from discourse_async.testing import FakeDiscourse

    fake = FakeDiscourse()
    async with fake.client() as dc:                 # in-process, admin key acting as "system"
        await dc.posts.create_post(title="Hello from a test", raw="A first post, long enough.", category=2)

    async with fake.serve() as url:                 # or over a real socket (uvicorn on 127.0.0.1)
        ...

Needs the ``testing`` extra (``pip install discourse-async[testing]``). With pytest, enable the
fixtures with ``-p discourse_async.testing.pytest_plugin``.
"""

from discourse_async._extras import requires_extra

with requires_extra("testing", "discourse_async.testing (the fake Discourse)"):
    from discourse_async.testing._app import DroppedConnection, FakeDiscourse
    from discourse_async.testing._control import Fault, ManualClock, RateLimit, RequestRecord
    from discourse_async.testing._s3 import S3Request, S3Server, S3Store
    from discourse_async.testing._server import run_in_thread, serve
    from discourse_async.testing._webhooks import Webhook, WebhookDelivery

__all__ = [
    "DroppedConnection",
    "FakeDiscourse",
    "Fault",
    "ManualClock",
    "RateLimit",
    "RequestRecord",
    "S3Request",
    "S3Server",
    "S3Store",
    "Webhook",
    "WebhookDelivery",
    "run_in_thread",
    "serve",
]
