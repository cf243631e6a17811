"""The fake's routes, one module per tag of openapi.yaml, each with its handlers and serializers.

Importing the package registers every handler; the forum's rules live in ``_backend``.
"""

import importlib

TAGS: tuple[str, ...] = ("backups", "badges", "categories", "events", "groups", "invites", "notifications", "posts")
TAGS += ("private_messages", "search", "site", "tags", "topics", "uploads", "users")
for _tag in TAGS:
    importlib.import_module(f"{__name__}.{_tag}")
