"""Numbers Discourse uses that have names."""

from __future__ import annotations

from enum import IntEnum

__all__ = ["NotificationLevel", "PostActionType"]


class PostActionType(IntEnum):
    """What a post action does (``post_action_type_id``): like a post, or flag it and why.

    ``dc.posts.like(post_id)`` and ``dc.posts.flag(post_id, reason=...)`` use these; sites list
    their own under ``get_site().post_action_types``.
    """

    LIKE = 2
    OFF_TOPIC = 3
    INAPPROPRIATE = 4
    NOTIFY_USER = 6
    NOTIFY_MODERATORS = 7
    SPAM = 8
    ILLEGAL = 10


class NotificationLevel(IntEnum):
    """How closely a user follows a topic or category (``notification_level``)."""

    MUTED = 0
    REGULAR = 1
    TRACKING = 2
    WATCHING = 3
