"""The site: /site.json and its basic info."""

from __future__ import annotations

from discourse_async.testing import _backend as backend
from discourse_async.testing._context import JSON, Ctx, op
from discourse_async.testing.api import categories as _categories


def site(store: backend.Store, viewer: backend.User | None) -> JSON:
    """SiteSerializer: lookup tables, categories and groups for a client to start from."""
    visible = [c for c in store.categories.values() if store.can_see_category(viewer, c)]
    flags = [
        ("off_topic", "Off-Topic", 3),
        ("inappropriate", "Inappropriate", 4),
        ("spam", "Spam", 8),
        ("illegal", "Illegal", 10),
        ("notify_user", "Send @{{username}} a message", 6),
        ("notify_moderators", "Something Else", 7),
    ]
    action_types = [
        {
            "id": i,
            "name_key": key,
            "name": name,
            "description": name,
            "short_description": name,
            "is_flag": key != "like",
            "require_message": key in ("notify_user", "notify_moderators"),
            "enabled": True,
            "applies_to": ["Post", "Chat::Message"],
            "is_used": False,
            "position": pos,
            "auto_action_type": False,
            "system": True,
        }
        for pos, (key, name, i) in enumerate([("like", "Like", 2), *flags])
    ]
    return {
        "default_archetype": "regular",
        "notification_types": dict(backend.NOTIFICATION_TYPES),
        "post_types": dict(backend.POST_TYPES),
        "trust_levels": dict(backend.TRUST_LEVELS),
        "user_tips": {
            "first_notification": 1,
            "topic_timeline": 2,
            "post_menu": 3,
            "topic_notification_levels": 4,
            "suggested_topics": 5,
        },
        "groups": [
            {
                "id": g.id,
                "name": g.name,
                "full_name": g.full_name or "",
                "display_name": g.name,
                "flair_url": None,
                "flair_bg_color": None,
                "flair_color": None,
                "automatic": g.automatic,
            }
            for g in store.groups.values()
        ],
        "filters": ["latest", "unread", "new", "unseen", "top", "read", "posted", "bookmarks", "hot"],
        "homepage_choices": [],
        "periods": ["all", "yearly", "quarterly", "monthly", "weekly", "daily"],
        "top_menu_items": ["latest", "unread", "new", "unseen", "top", "read", "posted", "bookmarks", "hot"],
        "anonymous_top_menu_items": ["latest", "top", "categories", "hot"],
        "uncategorized_category_id": 1,
        "user_field_max_length": 2048,
        "post_action_types": action_types,
        "topic_flag_types": [dict(t, applies_to=["Topic"]) for t in action_types if t["is_flag"]],
        "can_create_tag": bool(viewer and viewer.staff),
        "can_tag_topics": viewer is not None,
        "can_tag_pms": bool(viewer and viewer.staff),
        "tags_filter_regexp": "[\\/\\?#\\[\\]@!\\$&'\\(\\)\\*\\+,;=\\.%\\\\`^\\s|\\{\\}\"<>]+",
        "top_tags": [{"id": t.id, "name": t.name, "slug": t.name} for t in list(store.tags.values())[:10]],
        "wizard_required": False,
        "can_associate_groups": False,
        "email_configured": True,
        "upcoming_changes_with_css": [],
        "topic_featured_link_allowed_category_ids": [c.id for c in visible],
        "user_themes": [
            {
                "theme_id": 1,
                "name": "Default",
                "default": True,
                "color_scheme_id": None,
                "dark_color_scheme_id": None,
                "only_theme_color_schemes": False,
            }
        ],
        "user_color_schemes": [],
        "default_light_color_scheme": None,
        "default_dark_color_scheme": None,
        "censored_regexp": [],
        "custom_emoji_translation": {},
        "watched_words_replace": None,
        "watched_words_link": None,
        "markdown_additional_options": {},
        "hashtag_configurations": {"topic-composer": ["category", "tag"]},
        "hashtag_icons": {"category": "folder", "tag": "tag"},
        "displayed_about_plugin_stat_groups": [],
        "categories": [_categories.category_json(store, viewer, c) for c in visible],
        "archetypes": [
            {"id": "regular", "name": "Regular Topic", "options": []},
            {"id": "banner", "name": "Banner Topic", "options": []},
        ],
        "user_fields": [],
        "auth_providers": [],
        "whispers_allowed_groups_names": [],
        "denied_emojis": [],
        "valid_flag_applies_to_types": ["Post", "Topic", "Chat::Message"],
        "navigation_menu_site_top_tags": [],
        "full_name_required_for_signup": False,
        "full_name_visible_in_signup": True,
        "admin_config_login_routes": [],
        "access_control": {"mandatory_acl": {}, "banned_acl": {}},
        "permanent_upcoming_change_names": [],
        "category_types": [],
    }


@op("get_site")
async def get_site(ctx: Ctx) -> JSON:
    """GET /site.json."""
    return site(ctx.store, ctx.user)


@op("get_site_basic_info")
async def get_site_basic_info(ctx: Ctx) -> JSON:
    """GET /site/basic-info.json."""
    return {
        "logo_url": "/images/discourse-logo-sketch.png",
        "logo_small_url": "/images/discourse-logo-sketch-small.png",
        "apple_touch_icon_url": "/images/default-apple-touch-icon.png",
        "favicon_url": "/images/default-favicon.png",
        "title": ctx.fake.title,
        "description": "A fake Discourse for tests (discourse_async.testing).",
        "header_primary_color": "333333",
        "header_background_color": "ffffff",
        "login_required": False,
        "locale": "en",
        "include_in_discourse_discover": False,
        "mobile_logo_url": "",
    }
