"""``python -m discourse_async.testing --port 4200``: serve a fake Discourse on 127.0.0.1 until Ctrl-C."""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import threading

from discourse_async.testing._app import FakeDiscourse
from discourse_async.testing._s3 import S3Server
from discourse_async.testing._server import run_in_thread


def main(argv: list[str] | None = None) -> int:
    """Run the server; prints its URL and the admin API key it created."""
    parser = argparse.ArgumentParser(prog="python -m discourse_async.testing", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=4200, help="port to listen on (0 picks a free one)")
    parser.add_argument("--s3", action="store_true", help="enable direct S3 uploads against a local moto server")
    parser.add_argument("--seed-topics", type=int, default=0, metavar="N", help="start with N topics")
    parser.add_argument(
        "--discourse-connect-secret", metavar="SECRET", help="enable DiscourseConnect (POST /admin/users/sync_sso)"
    )
    parser.add_argument(
        "--setting",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set a site setting (repeatable), e.g. allow_uncategorized_topics=true",
    )
    args = parser.parse_args(argv)
    # Warnings (such as a route the fake does not model) go to stderr, one line each.
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    with contextlib.ExitStack() as stack:
        try:
            s3 = stack.enter_context(S3Server()) if args.s3 else None
            fake = FakeDiscourse(s3=s3)
            for setting in args.setting:
                name, sep, value = setting.partition("=")
                if not sep:
                    raise ValueError(f"--setting takes NAME=VALUE, not {setting!r}")
                fake.site_settings.set_text(name.strip(), value.strip())
            if args.discourse_connect_secret:
                fake.discourse_connect_secret = args.discourse_connect_secret
            if args.seed_topics:
                fake.seed_topics(args.seed_topics)
            url = stack.enter_context(run_in_thread(fake, args.host, args.port))
        except Exception as exc:  # a taken port, a bad setting, S3 that will not start: one line, no traceback
            print(f"{parser.prog}: {exc}", file=sys.stderr, flush=True)
            return 1
        print(f"Fake Discourse at {url}", flush=True)
        print(f"Admin API key: {fake.admin_api_key}  (send Api-Username: system)", flush=True)
        if s3 is not None:
            print(f"S3 server at {s3.endpoint_url} (bucket {fake.s3.bucket if fake.s3 else '?'})", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
