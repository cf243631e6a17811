"""Realistic Discourse JSON for the benchmarks (shapes of a current site; values made up)."""

from __future__ import annotations

from typing import Any


def _topic(i: int) -> dict[str, Any]:
    return {
        "id": 1000 + i,
        "title": f"How do I configure the widget number {i} for my team?",
        "fancy_title": f"How do I configure the widget number {i} for my team?",
        "slug": f"how-do-i-configure-the-widget-number-{i}",
        "posts_count": 7 + i,
        "reply_count": 3,
        "highest_post_number": 7 + i,
        "image_url": None,
        "created_at": "2026-08-20T12:34:56.789Z",
        "last_posted_at": "2026-08-21T08:00:00.000Z",
        "bumped": True,
        "bumped_at": "2026-08-21T08:00:00.000Z",
        "archetype": "regular",
        "unseen": False,
        "pinned": False,
        "unpinned": None,
        "visible": True,
        "closed": False,
        "archived": False,
        "bookmarked": None,
        "liked": None,
        "tags": ["howto", "widgets"],
        "views": 120 + i,
        "like_count": 4,
        "has_summary": False,
        "last_poster_username": "sam",
        "category_id": 4,
        "pinned_globally": False,
        "featured_link": None,
        "posters": [
            {
                "extras": "latest single",
                "description": "Original Poster, Most Recent Poster",
                "user_id": 1,
                "primary_group_id": None,
            },
            {"extras": None, "description": "Frequent Poster", "user_id": 2, "primary_group_id": None},
        ],
    }


def latest_json(topics: int = 3) -> dict[str, Any]:
    """A /latest.json page (about 3.5 KB with 3 topics)."""
    return {
        "users": [
            {
                "id": 1,
                "username": "sam",
                "name": "Sam",
                "avatar_template": "/user_avatar/forum.example.com/sam/{size}/1_2.png",
                "trust_level": 4,
            },
            {
                "id": 2,
                "username": "alex",
                "name": None,
                "avatar_template": "/user_avatar/forum.example.com/alex/{size}/2_2.png",
                "trust_level": 1,
            },
        ],
        "primary_groups": [],
        "topic_list": {
            "can_create_topic": True,
            "per_page": 30,
            "top_tags": ["howto", "widgets"],
            "topics": [_topic(i) for i in range(topics)],
        },
    }


def _post(n: int) -> dict[str, Any]:
    return {
        "id": 50_000 + n,
        "name": "Sam" if n % 3 else None,
        "username": "sam" if n % 2 else "alex",
        "avatar_template": "/user_avatar/forum.example.com/sam/{size}/1_2.png",
        "created_at": "2026-08-20T12:34:56.789Z",
        "cooked": f'<p>This is reply number {n}, with <strong>some</strong> text and a <a href="https://example.com">link</a>.</p>',
        "post_number": n,
        "post_type": 1,
        "updated_at": "2026-08-20T12:34:56.789Z",
        "reply_count": 0,
        "reply_to_post_number": n - 1 if n % 4 == 0 else None,
        "quote_count": 0,
        "incoming_link_count": 0,
        "reads": 12,
        "readers_count": 11,
        "score": 2.4,
        "yours": False,
        "topic_id": 1000,
        "topic_slug": "a-long-topic",
        "display_username": "Sam",
        "primary_group_name": None,
        "flair_name": None,
        "flair_url": None,
        "flair_bg_color": None,
        "flair_color": None,
        "version": 1,
        "can_edit": False,
        "can_delete": False,
        "can_recover": False,
        "can_wiki": False,
        "read": True,
        "user_title": None,
        "bookmarked": False,
        "actions_summary": [{"id": 2, "count": 1}],
        "moderator": False,
        "admin": False,
        "staff": False,
        "user_id": 1,
        "hidden": False,
        "trust_level": 2,
        "deleted_at": None,
        "user_deleted": False,
        "edit_reason": None,
        "can_view_edit_history": True,
        "wiki": False,
        "reactions_plugin_field": {"heart": 1},
    }


def topic_json(posts: int) -> dict[str, Any]:
    """A /t/{id}.json topic with ``posts`` posts in its post stream (20: about 35 KB; 1,000: about 1.2 MB)."""
    return {
        "post_stream": {
            "posts": [_post(n) for n in range(1, posts + 1)],
            "stream": list(range(50_001, 50_001 + posts)),
        },
        "id": 1000,
        "title": "A long topic with many replies",
        "fancy_title": "A long topic with many replies",
        "posts_count": posts,
        "created_at": "2026-08-20T12:34:56.789Z",
        "views": 5000,
        "reply_count": posts - 1,
        "like_count": 300,
        "last_posted_at": "2026-08-21T08:00:00.000Z",
        "visible": True,
        "closed": False,
        "archived": False,
        "archetype": "regular",
        "slug": "a-long-topic",
        "category_id": 4,
        "word_count": 40000,
        "deleted_at": None,
        "user_id": 1,
        "tags": ["howto"],
        "details": _details(),
        "suggested_topics": [_topic(i) for i in range(8)],
        "actions_summary": [{"id": t, "count": 0, "hidden": False, "can_act": True} for t in (2, 3, 4, 8, 7, 10, 6)],
        "timeline_lookup": [[1, 3], [posts // 2 or 1, 1]],
        "chunk_size": 20,
        "bookmarked": False,
        "bookmarks": [],
        "message_bus_last_id": 7,
        "participant_count": 2,
        "show_read_indicator": False,
        "thumbnails": None,
        "slow_mode_seconds": 0,
        "slow_mode_enabled_until": None,
        "summarizable": False,
        "has_summary": False,
        "pinned_globally": False,
        "pinned": False,
        "pinned_at": None,
        "pinned_until": None,
        "image_url": None,
        "draft": None,
        "draft_key": "topic_1000",
        "draft_sequence": 0,
        "unpinned": None,
        "current_post_number": 1,
        "highest_post_number": posts,
        "last_read_post_number": None,
        "featured_link": None,
        "topic_timer": None,
        "tags_descriptions": {},
        "related_messages": [],
    }


def _details() -> dict[str, Any]:
    user = {
        "id": 1,
        "username": "sam",
        "name": "Sam",
        "avatar_template": "/user_avatar/forum.example.com/sam/{size}/1_2.png",
    }
    flags = [
        "can_edit",
        "can_delete",
        "can_recover",
        "can_remove_allowed_users",
        "can_invite_to",
        "can_invite_via_email",
    ]
    flags += ["can_create_post", "can_reply_as_new_topic", "can_flag_topic", "can_convert_topic", "can_review_topic"]
    flags += [
        "can_close_topic",
        "can_archive_topic",
        "can_split_merge_topic",
        "can_edit_staff_notes",
        "can_toggle_topic_visibility",
    ]
    flags += [
        "can_pin_unpin_topic",
        "can_moderate_category",
        "can_remove_self_id",
        "can_move_posts",
        "can_banner_topic",
    ]
    return {
        "created_by": user,
        "last_poster": user,
        "participants": [
            {
                **user,
                "id": 1 + i,
                "post_count": 10 - i,
                "primary_group_name": None,
                "flair_name": None,
                "trust_level": 2,
            }
            for i in range(5)
        ],
        "links": [],
        "notification_level": 1,
        **dict.fromkeys(flags, False),
    }
