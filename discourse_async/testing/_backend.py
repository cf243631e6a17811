"""The fake forum's state: plain records and the rules that change them, with no HTTP in sight.

Everything lives in memory and every id counts up from 1 (the ``system`` user is -1, as on a real
site). Methods that enforce a Discourse rule raise :class:`DiscourseHTTPError`, which the app turns
into Discourse's error body.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import html
import re
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from discourse_async.testing._settings import SiteSettings

# ------------------------------------------------------------------------------------- constants

#: Discourse's notification type ids (Notification.types).
NOTIFICATION_TYPES: dict[str, int] = {
    "mentioned": 1,
    "replied": 2,
    "quoted": 3,
    "edited": 4,
    "liked": 5,
    "private_message": 6,
    "invited_to_private_message": 7,
    "invitee_accepted": 8,
    "posted": 9,
    "moved_post": 10,
    "linked": 11,
    "granted_badge": 12,
    "invited_to_topic": 13,
    "custom": 14,
    "group_mentioned": 15,
    "group_message_summary": 16,
    "watching_first_post": 17,
    "topic_reminder": 18,
    "liked_consolidated": 19,
    "post_approved": 20,
    "code_review_commit_approved": 21,
    "membership_request_accepted": 22,
    "membership_request_consolidated": 23,
    "bookmark_reminder": 24,
    "reaction": 25,
    "votes_released": 26,
    "event_reminder": 27,
    "event_invitation": 28,
    "chat_mention": 29,
    "chat_message": 30,
    "chat_invitation": 31,
    "chat_group_mention": 32,
    "chat_quoted": 33,
    "assigned": 34,
    "question_answer_user_commented": 35,
    "watching_category_or_tag": 36,
    "new_features": 37,
    "admin_problems": 38,
    "linked_consolidated": 39,
    "chat_watched_thread": 40,
    "upcoming_change_available": 41,
    "upcoming_change_automatically_promoted": 42,
    "boost": 43,
    "suggested_edit_created": 44,
    "suggested_edit_accepted": 45,
    "resenha_invitation": 46,
    "following": 800,
    "following_created_topic": 801,
    "following_replied": 802,
    "circles_activity": 900,
}
POST_TYPES = {"regular": 1, "moderator_action": 2, "small_action": 3, "whisper": 4}
TRUST_LEVELS = {"newuser": 0, "basic": 1, "member": 2, "regular": 3, "leader": 4}
#: UserAction types, as /user_actions.json's ``filter`` takes them.
ACTION_TYPES = {
    "like": 1,
    "was_liked": 2,
    "new_topic": 4,
    "reply": 5,
    "response": 6,
    "mention": 7,
    "quote": 9,
    "edit": 11,
    "new_private_message": 12,
    "got_private_message": 13,
}
#: PostActionType ids: 2 is a like; the rest are flags.
POST_ACTION_TYPES = {
    "like": 2,
    "off_topic": 3,
    "inappropriate": 4,
    "notify_user": 6,
    "notify_moderators": 7,
    "spam": 8,
    "illegal": 10,
}
#: Discourse's periods (the top lists, the user directory) and their days; "all" has no limit.
PERIOD_DAYS = {"daily": 1, "weekly": 7, "monthly": 30, "quarterly": 91, "yearly": 365, "all": None}
USER_API_SCOPES = (
    "read",
    "write",
    "message_bus",
    "push",
    "notifications",
    "session_info",
    "one_time_password",
    "bookmarks_calendar",
    "user_status",
)


class DiscourseHTTPError(Exception):
    """An error answer, rendered as Discourse's ``{"errors": [...], "error_type": ...}`` body."""

    def __init__(
        self,
        status: int,
        errors: str | list[str],
        error_type: str | None = None,
        *,
        body: dict[str, Any] | None = None,
    ) -> None:
        self.status = status
        self.errors = [errors] if isinstance(errors, str) else list(errors)
        self.error_type = error_type
        self.body = body  # a whole body, for the few endpoints that answer in their own shape
        super().__init__(f"{status} {error_type}: {'; '.join(self.errors)}")


def not_found() -> DiscourseHTTPError:
    """Discourse's 404 (also its answer when the caller may not know the thing exists)."""
    return DiscourseHTTPError(404, "The requested URL or resource could not be found.", "not_found")


def invalid_access(message: str = "You are not permitted to view the requested resource.") -> DiscourseHTTPError:
    """Discourse's 403 for a bad key or a caller not allowed to do this."""
    return DiscourseHTTPError(403, message, "invalid_access")


_K = TypeVar("_K")
_V = TypeVar("_V")


def found(table: Mapping[_K, _V], key: _K) -> _V:
    """``table[key]``, or Discourse's 404 when there is none."""
    value = table.get(key)
    if value is None:
        raise not_found()
    return value


def not_logged_in() -> DiscourseHTTPError:
    """Discourse's 403 for anonymous callers of endpoints that need a user."""
    return DiscourseHTTPError(403, "You need to be logged in to do that.", "not_logged_in")


def invalid_parameters(message: str) -> DiscourseHTTPError:
    """Discourse's 400 for a missing or malformed parameter."""
    return DiscourseHTTPError(400, message, "invalid_parameters")


def record_invalid(*messages: str) -> DiscourseHTTPError:
    """Discourse's 422 for data that fails validation."""
    return DiscourseHTTPError(422, list(messages), "record_invalid")


# ------------------------------------------------------------------------------------- helpers


def iso(ts: float | None) -> str | None:
    """A timestamp as Discourse writes it: ISO 8601 in UTC with milliseconds."""
    return None if ts is None else _iso(ts)


@functools.lru_cache(maxsize=65536)  # lists re-serialize the same timestamps page after page
def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(value: str) -> float:
    """A timestamp from an ISO 8601 date or date-time (what Discourse's API accepts)."""
    text = value.strip().replace("Z", "+00:00")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise invalid_parameters(f"invalid date: {value!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


_NON_SLUG = re.compile(r"[^a-z0-9]+")


def slugify(text: str) -> str:
    """Discourse's ASCII slug: lower case, runs of other characters become one dash."""
    slug = _NON_SLUG.sub("-", text.lower()).strip("-")
    return slug[:80].strip("-") or "topic"


_MENTION = re.compile(r"(?<![\w@/])@([\w.-]{1,60}\w)")
_PARAGRAPHS = re.compile(r"\n\s*\n")
_INLINE = [
    (re.compile(r"`([^`]+)`"), r"<code>\1</code>"),
    (re.compile(r"\*\*(.+?)\*\*"), r"<strong>\1</strong>"),
    (re.compile(r"(?<![*\w])\*(?!\s)(.+?)\*(?!\w)"), r"<em>\1</em>"),
]


def mentions(raw: str) -> list[str]:
    """The @usernames mentioned in a post, in order, without repeats."""
    return list(dict.fromkeys(m.lower() for m in _MENTION.findall(raw)))


def _mention_link(match: re.Match[str]) -> str:
    return f'<a class="mention" href="/u/{match.group(1).lower()}">@{match.group(1)}</a>'


def cook(raw: str) -> str:
    """A small Markdown subset to HTML: paragraphs, bold, italics, code and @mentions."""
    out = []
    for para in _PARAGRAPHS.split(raw.strip()):
        if not para.strip():
            continue
        text = html.escape(para, quote=False)
        if "`" in text or "*" in text:  # most posts have neither: skip the regexes (seeding 100,000 stays fast)
            for pattern, replacement in _INLINE:
                text = pattern.sub(replacement, text)
        if "@" in text:
            text = _MENTION.sub(_mention_link, text)
        out.append("<p>" + text.replace("\n", "<br>\n") + "</p>")
    return "\n".join(out)


def excerpt(cooked: str, length: int = 200) -> str:
    """Plain text of cooked HTML, cut like Discourse's excerpts."""
    text = html.unescape(re.sub(r"<[^>]+>", "", cooked)).replace("\n", " ").strip()
    return text if len(text) <= length else text[: length - 1].rstrip() + "…"


def new_key(nbytes: int = 32) -> str:
    """A random hex key like Discourse's API keys (64 hex characters)."""
    return secrets.token_hex(nbytes)


# ------------------------------------------------------------------------------------- records


@dataclass(eq=False)
class User:
    """A user account."""

    id: int
    username: str
    name: str | None
    email: str
    created_at: float
    password: str = ""
    trust_level: int = 1
    admin: bool = False
    moderator: bool = False
    active: bool = True
    staged: bool = False
    title: str | None = None
    suspended_at: float | None = None
    suspended_till: float | None = None
    suspend_reason: str | None = None
    silenced_at: float | None = None
    silenced_till: float | None = None
    silence_reason: str | None = None
    uploaded_avatar_id: int | None = None
    primary_group_id: int | None = None
    last_seen_at: float | None = None
    last_posted_at: float | None = None
    external_ids: dict[str, str] = field(default_factory=dict)
    secondary_emails: list[str] = field(default_factory=list)
    topic_count: int = 0
    post_count: int = 0
    likes_given: int = 0
    likes_received: int = 0
    seen_notification_id: int = 0
    actions: list[UserAction] = field(default_factory=list)  # oldest first
    notifications: list[Notification] = field(default_factory=list)  # oldest first
    topic_levels: dict[int, int] = field(default_factory=dict)
    bookmarked_topics: set[int] = field(default_factory=set)
    auth_token_count: int = 0
    profile: dict[str, Any] = field(default_factory=dict)  # what PUT /u/{username} stores beyond the columns

    @property
    def staff(self) -> bool:
        """Admins and moderators."""
        return self.admin or self.moderator

    def suspended(self, now: float) -> bool:
        """Whether a suspension is in force."""
        return self.suspended_till is not None and self.suspended_till > now

    def silenced(self, now: float) -> bool:
        """Whether a silence is in force."""
        return self.silenced_till is not None and self.silenced_till > now

    @property
    def avatar_template(self) -> str:
        """The avatar URL template, with ``{size}`` left for the client."""
        if self.uploaded_avatar_id:
            return f"/user_avatar/forum.test/{self.username.lower()}/{{size}}/{self.uploaded_avatar_id}_2.png"
        color = hashlib.md5(self.username.encode(), usedforsecurity=False).hexdigest()[:6]
        return f"/letter_avatar_proxy/v4/letter/{self.username[0].lower()}/{color}/{{size}}.png"


@dataclass(eq=False)
class ApiKey:
    """An admin API key; ``user_id`` None means it may act as any user."""

    key: str
    user_id: int | None
    description: str = ""
    revoked: bool = False


@dataclass(eq=False)
class UserApiKey:
    """A User API key: acts as one user within its scopes."""

    id: int
    key: str
    user_id: int
    client_id: str
    application_name: str
    scopes: tuple[str, ...]
    revoked: bool = False


@dataclass(eq=False)
class Category:
    """A category; ``permissions`` maps group names to permission types (1 full, 2 reply, 3 see)."""

    id: int
    name: str
    slug: str
    color: str
    text_color: str
    created_at: float
    description: str | None = None
    parent_category_id: int | None = None
    position: int = 0
    permissions: dict[str, int] = field(default_factory=lambda: {"everyone": 1})
    style_type: str = "square"
    emoji: str | None = None
    icon: str | None = None
    search_priority: int = 0
    allow_badges: bool = True
    topic_featured_link_allowed: bool = True
    uncategorized: bool = False

    @property
    def read_restricted(self) -> bool:
        """Whether only some groups can see it."""
        return "everyone" not in self.permissions


@dataclass(eq=False)
class Post:
    """A post; ``post_number`` counts from 1 within its topic."""

    id: int
    topic_id: int
    post_number: int
    user_id: int
    raw: str
    cooked: str
    created_at: float
    updated_at: float
    reply_to_post_number: int | None = None
    post_type: int = 1
    action_code: str | None = None
    version: int = 1
    deleted_at: float | None = None
    locked: bool = False
    wiki: bool = False
    hidden: bool = False
    edit_reason: str | None = None
    reply_count: int = 0
    likes: set[int] = field(default_factory=set)
    flags: list[tuple[int, int]] = field(default_factory=list)  # (user id, post action type)
    bookmarked_by: set[int] = field(default_factory=set)
    revisions: list[str] = field(default_factory=list)  # earlier raws


@dataclass(eq=False)
class TopicTimer:
    """A scheduled action on a topic (close, open, delete, ...)."""

    id: int
    status_type: str
    execute_at: float | None
    based_on_last_post: bool
    category_id: int | None
    duration_minutes: int | None


@dataclass(eq=False)
class Topic:
    """A topic or private message; its posts are in post-number order."""

    id: int
    title: str
    slug: str
    user_id: int
    category_id: int | None
    archetype: str
    created_at: float
    bumped_at: float
    last_posted_at: float
    last_post_user_id: int
    posts: list[Post] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    allowed_user_ids: list[int] = field(default_factory=list)
    allowed_group_ids: list[int] = field(default_factory=list)
    closed: bool = False
    archived: bool = False
    visible: bool = True
    pinned_at: float | None = None
    pinned_globally: bool = False
    pinned_until: float | None = None
    deleted_at: float | None = None
    external_id: str | None = None
    views: int = 0
    daily_views: dict[str, int] = field(default_factory=dict)  # "YYYY-MM-DD" (UTC) -> views that day
    timer: TopicTimer | None = None
    featured_link: str | None = None
    live_posts: int = 0  # posts not deleted, kept current so topic lists need no scan
    like_count: int = 0

    @property
    def private(self) -> bool:
        """Whether it is a private message."""
        return self.archetype == "private_message"

    @property
    def highest_post_number(self) -> int:
        """The number of the last post ever made, deleted or not."""
        return self.posts[-1].post_number if self.posts else 0

    @property
    def fancy_title(self) -> str:
        """The title as HTML."""
        return html.escape(self.title, quote=False)

    def post_by_number(self, number: int) -> Post | None:
        """The post with this number, if any (deleted ones included)."""
        index = bisect.bisect_left(self.posts, number, key=lambda p: p.post_number)
        if index < len(self.posts) and self.posts[index].post_number == number:
            return self.posts[index]
        return None


@dataclass(eq=False)
class Tag:
    """A tag."""

    id: int
    name: str
    description: str | None = None


@dataclass(eq=False)
class TagGroup:
    """A named set of tags."""

    id: int
    name: str
    tag_names: list[str] = field(default_factory=list)
    parent_tag_name: list[str] = field(default_factory=list)
    one_per_topic: bool = False
    permissions: dict[str, int] = field(default_factory=lambda: {"everyone": 1})


@dataclass(eq=False)
class Membership:
    """A user's place in a group."""

    added_at: float
    owner: bool = False


@dataclass(eq=False)
class Group:
    """A group; automatic groups (everyone, staff, trust levels) have fixed members."""

    id: int
    name: str
    created_at: float
    automatic: bool = False
    full_name: str | None = None
    bio_raw: str | None = None
    title: str | None = None
    visibility_level: int = 0
    members_visibility_level: int = 0
    mentionable_level: int = 0
    messageable_level: int = 0
    primary_group: bool = False
    public_admission: bool = False
    public_exit: bool = False
    allow_membership_requests: bool = False
    default_notification_level: int = 3
    flair_icon: str | None = None
    flair_bg_color: str | None = None
    grant_trust_level: int | None = None
    members: dict[int, Membership] = field(default_factory=dict)


@dataclass(eq=False)
class Notification:
    """A notification for one user."""

    id: int
    user_id: int
    notification_type: int
    created_at: float
    topic_id: int | None = None
    post_number: int | None = None
    slug: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    read: bool = False
    high_priority: bool = False


@dataclass(eq=False)
class UserAction:
    """One entry of a user's activity stream."""

    action_type: int
    user_id: int
    acting_user_id: int
    topic_id: int
    post_id: int | None
    created_at: float


@dataclass(eq=False)
class Badge:
    """A badge (system ones are created with the site)."""

    id: int
    name: str
    badge_type_id: int
    badge_grouping_id: int = 5
    description: str | None = None
    long_description: str = ""
    icon: str = "certificate"
    system: bool = False
    enabled: bool = True
    listable: bool = True
    allow_title: bool = False
    multiple_grant: bool = False
    grant_count: int = 0

    @property
    def slug(self) -> str:
        """The badge's URL slug."""
        return slugify(self.name)


@dataclass(eq=False)
class UserBadge:
    """A badge granted to a user."""

    id: int
    badge_id: int
    user_id: int
    granted_at: float
    granted_by_id: int


@dataclass(eq=False)
class Upload:
    """A stored file: its bytes in memory, or the key of an S3 object."""

    id: int
    user_id: int
    original_filename: str
    filesize: int
    sha1: str
    extension: str
    created_at: float
    upload_type: str
    data: bytes | None = None
    s3_key: str | None = None
    width: int | None = None
    height: int | None = None


@dataclass(eq=False)
class ExternalUploadStub:
    """A direct-to-S3 upload in progress (Discourse's ExternalUploadStub)."""

    unique_identifier: str
    key: str
    user_id: int
    original_filename: str
    filesize: int
    upload_type: str
    multipart: bool
    created_at: float
    external_upload_identifier: str | None = None
    sha1: str | None = None


@dataclass(eq=False)
class Invite:
    """An invite link."""

    id: int
    invite_key: str
    invited_by_id: int
    created_at: float
    expires_at: float
    email: str | None = None
    custom_message: str | None = None
    max_redemptions_allowed: int = 1
    topic_ids: list[int] = field(default_factory=list)
    group_ids: list[int] = field(default_factory=list)
    emailed: bool = False


@dataclass(eq=False)
class Event:
    """A calendar event of the discourse-post-event plugin, attached to a post."""

    id: int
    post_id: int
    name: str | None
    starts_at: float
    ends_at: float | None
    timezone: str | None = "UTC"
    status: str = "public"
    description: str | None = None
    location: str | None = None
    url: str | None = None


@dataclass
class Email:
    """A message the fake "sent" (password resets, backup links, invites)."""

    to: str
    kind: str
    token: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


# ------------------------------------------------------------------------------------- the store


class Store:
    """All records of one fake site, with id counters and the lists that stay sorted as they grow."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        #: the site settings the rules read, with Discourse's defaults
        self.settings = SiteSettings()
        self.version = 0  # bumped by every change: list caches and the request log use it
        #: tags as ``{id, name, slug}`` objects instead of plain names (a site setting some sites turn on)
        self.tags_as_objects = False
        self._ids: dict[str, int] = {}
        self.users: dict[int, User] = {}
        self.users_by_name: dict[str, User] = {}
        self.api_keys: dict[str, ApiKey] = {}
        self.user_api_keys: dict[str, UserApiKey] = {}
        self.categories: dict[int, Category] = {}
        self.topics: dict[int, Topic] = {}
        self.posts: dict[int, Post] = {}
        self.post_ids: list[int] = []  # ascending, for /posts.json?before=
        self.tags: dict[str, Tag] = {}
        self.tag_groups: dict[int, TagGroup] = {}
        self.groups: dict[int, Group] = {}
        self.badges: dict[int, Badge] = {}
        self.user_badges: list[UserBadge] = []
        self.uploads: dict[int, Upload] = {}
        self.upload_stubs: dict[str, ExternalUploadStub] = {}
        self.invites: dict[int, Invite] = {}
        self.events: dict[int, Event] = {}
        self.timer_topic_ids: set[int] = set()  # topics with a timer, so requests need not scan every topic
        self.backups: dict[str, tuple[int, float]] = {}  # filename -> (size, created)
        self.emails: list[Email] = []
        self.password_reset_tokens: dict[str, int] = {}
        self.backup_tokens: dict[str, int] = {}
        self._cache: dict[Any, tuple[int, Any]] = {}
        self._seed_site()

    # ---------------------------------------------------------------- basics

    def now(self) -> float:
        """The fake's current time (seconds since the epoch)."""
        return self.clock()

    def next_id(self, kind: str) -> int:
        """The next id for a kind of record."""
        self._ids[kind] = self._ids.get(kind, 0) + 1
        return self._ids[kind]

    def changed(self) -> None:
        """Note a change of state (invalidates cached lists)."""
        self.version += 1

    def cached(self, key: Any, build: Callable[[], Any]) -> Any:
        """``build()``, kept until the state next changes (topic lists of 100,000 topics page cheaply)."""
        hit = self._cache.get(key)
        if hit is not None and hit[0] == self.version:
            return hit[1]
        value = build()
        self._cache[key] = (self.version, value)
        return value

    def count_view(self, topic: Topic) -> None:
        """One view of a topic: its total and the day's count (for /t/{id}/view-stats.json)."""
        topic.views += 1
        day = _iso(self.now())[:10]
        topic.daily_views[day] = topic.daily_views.get(day, 0) + 1

    def stats(self) -> dict[str, int]:
        """Site statistics as /about.json gives them: counts for the last day, 7 and 30 days, and in all."""
        now = self.now()
        users = [u for u in self.users.values() if u.id > 0 and not u.staged]
        public = [t for t in self.topics.values() if not t.private and t.deleted_at is None]
        series = {
            "topics": [t.created_at for t in public],
            "posts": [p.created_at for t in public for p in t.posts if p.deleted_at is None and p.post_type == 1],
            "users": [u.created_at for u in users],
            "active_users": [u.last_seen_at for u in users if u.last_seen_at is not None],
            "likes": [a.created_at for u in users for a in u.actions if a.action_type == ACTION_TYPES["like"]],
            "participating_users": [u.last_posted_at for u in users if u.last_posted_at is not None],
        }
        out: dict[str, int] = {}
        for name, times in series.items():
            for suffix, days in (("last_day", 1), ("7_days", 7), ("30_days", 30)):
                out[f"{name}_{suffix}"] = sum(1 for ts in times if ts > now - days * 86400)
            if name in ("topics", "posts", "users", "likes"):  # both spellings: older sites sent topic_count
                out[f"{name}_count"] = out[f"{name[:-1]}_count"] = len(times)
        return out

    def _seed_site(self) -> None:
        now = self.now()
        system = User(
            id=-1,
            username="system",
            name="system",
            email="no_email",
            created_at=now,
            admin=True,
            moderator=True,
            trust_level=4,
        )
        self.users[-1] = system
        self.users_by_name["system"] = system
        automatic = ["everyone", "admins", "moderators", "staff"] + [f"trust_level_{n}" for n in range(5)]
        for gid, name in zip([0, 1, 2, 3, 10, 11, 12, 13, 14], automatic, strict=True):
            self.groups[gid] = Group(id=gid, name=name, created_at=now, automatic=True, visibility_level=1)
        self._ids["group"] = 40  # custom groups start after the automatic ones, as on a real site
        self.create_category(
            system,
            "Uncategorized",
            color="0088CC",
            uncategorized=True,
            description="Topics that don't need a category, or don't fit into any other existing category.",
        )
        self.create_category(
            system,
            "Site Feedback",
            color="808281",
            description="Discussion about this site, its organization, how it works, and how we can improve it.",
        )
        self.create_category(
            system,
            "Staff",
            color="E45735",
            permissions={"staff": 1},
            description="Private category for staff discussions.",
        )
        for name, type_id, grouping, desc in [
            ("Basic User", 3, 4, "Granted all essential community functions"),
            ("Member", 2, 4, "Granted invitations, group messaging, more likes"),
            ("Regular", 1, 4, "Granted recategorize, rename, followed links, wiki, more likes"),
            ("Leader", 1, 4, "Granted global edit, pin, close, archive, split and merge, more likes"),
            ("First Like", 3, 1, "Liked a post"),
            ("Welcome", 3, 1, "Received a like"),
            ("Nice Post", 3, 2, "Received 10 likes"),
        ]:
            bid = self.next_id("badge")
            self.badges[bid] = Badge(
                id=bid,
                name=name,
                badge_type_id=type_id,
                badge_grouping_id=grouping,
                description=desc,
                system=True,
                allow_title=type_id < 3,
            )

    # ---------------------------------------------------------------- users and keys

    def user(self, username: str) -> User:
        """The user with this username (case-insensitive), or a 404."""
        return found(self.users_by_name, username.lower())

    def validate_username(self, username: str, *, current: User | None = None) -> list[str]:
        """Discourse's username rules; the list of problems (empty when fine)."""
        problems = []
        shortest, longest = self.settings.min_username_length, self.settings.max_username_length
        if len(username) < shortest:
            problems.append(f"Username must be at least {shortest} characters")
        if len(username) > longest:
            problems.append(f"Username must be no more than {longest} characters")
        if not re.fullmatch(r"[\w.-]+", username) or username[-1] in ".-" or username[0] in ".-":
            problems.append("Username must only include numbers, letters, dashes, dots, and underscores")
        other = self.users_by_name.get(username.lower())
        if other is not None and other is not current:
            problems.append("Username must be unique")
        return problems

    def create_user(
        self,
        username: str,
        *,
        email: str | None = None,
        name: str | None = None,
        password: str = "",
        admin: bool = False,
        moderator: bool = False,
        trust_level: int = 1,
        active: bool = True,
        created_at: float | None = None,
    ) -> User:
        """Add a user without validation (tests and seeding); see the /users.json route for the checks."""
        uid = self.next_id("user")
        user = User(
            id=uid,
            username=username,
            name=name,
            email=email or f"{username.lower()}@example.com",
            created_at=self.now() if created_at is None else created_at,
            password=password,
            admin=admin,
            moderator=moderator,
            trust_level=trust_level,
            active=active,
        )
        self.users[uid] = user
        self.users_by_name[username.lower()] = user
        self.changed()
        return user

    def rename_user(self, user: User, new_username: str) -> None:
        """Change a username, keeping the lookup table right."""
        del self.users_by_name[user.username.lower()]
        user.username = new_username
        self.users_by_name[new_username.lower()] = user
        self.changed()

    def create_api_key(self, user: User | None = None, description: str = "") -> ApiKey:
        """An admin API key for one user, or for all users when ``user`` is None."""
        key = ApiKey(key=new_key(), user_id=None if user is None else user.id, description=description)
        self.api_keys[key.key] = key
        return key

    def create_user_api_key(
        self, user: User, *, scopes: Iterable[str], client_id: str, application_name: str
    ) -> UserApiKey:
        """A User API key; like Discourse, a client id holds one key at a time."""
        for old in self.user_api_keys.values():
            if old.client_id == client_id and not old.revoked:
                old.revoked = True
        key = UserApiKey(
            id=self.next_id("user_api_key"),
            key=new_key(16),
            user_id=user.id,
            client_id=client_id,
            application_name=application_name,
            scopes=tuple(scopes),
        )
        self.user_api_keys[key.key] = key
        return key

    def group_ids_of(self, user: User) -> set[int]:
        """Every group a user is in, automatic ones included."""
        ids = {0} | {10 + n for n in range(min(user.trust_level, 4) + 1)}  # trust_level_N: everyone at N or above
        if user.admin:
            ids |= {1, 3}
        if user.moderator:
            ids |= {2, 3}
        ids |= {g.id for g in self.groups.values() if not g.automatic and user.id in g.members}
        return ids

    def group_members(self, group: Group) -> list[tuple[User, Membership]]:
        """A group's members with their membership (automatic groups are computed)."""
        if not group.automatic:
            return [(self.users[uid], m) for uid, m in group.members.items() if uid in self.users]
        return [
            (user, Membership(added_at=user.created_at))
            for user in self.users.values()
            if user.id > 0 and group.id in self.group_ids_of(user)
        ]

    # ---------------------------------------------------------------- visibility

    def can_see_category(self, user: User | None, category: Category | None) -> bool:
        """Whether a viewer can see a category (staff see all)."""
        if category is None or not category.read_restricted:
            return True
        if user is None:
            return False
        if user.staff:
            return True
        names = {self.groups[g].name for g in self.group_ids_of(user) if g in self.groups}
        return bool(names & set(category.permissions))

    def can_see_topic(self, user: User | None, topic: Topic) -> bool:
        """Whether a viewer can see a topic: PMs only by participants and admins."""
        if topic.deleted_at is not None and not (user and user.staff):
            return False
        if topic.private:
            if user is None:
                return False
            if user.admin or user.id in topic.allowed_user_ids:
                return True
            return bool(set(topic.allowed_group_ids) & self.group_ids_of(user))
        if not topic.visible and not (user and (user.staff or user.id == topic.user_id)):
            return False
        return self.can_see_category(user, self.categories.get(topic.category_id or 0))

    def visible_topic(self, user: User | None, topic_id: int) -> Topic:
        """The topic if the viewer may see it; 404 otherwise, as Discourse hides what you cannot see."""
        topic = self.topics.get(topic_id)
        if topic is None or not self.can_see_topic(user, topic):
            if topic is not None and topic.private and user is None:
                raise not_logged_in()
            if topic is not None and topic.deleted_at is None and user is not None:
                raise invalid_access()
            raise not_found()
        return topic

    def visible_post(self, user: User | None, post_id: int) -> Post:
        """The post if the viewer may see it."""
        post = self.posts.get(post_id)
        if post is None or (post.deleted_at is not None and not (user and user.staff)):
            raise not_found()
        self.visible_topic(user, post.topic_id)
        return post

    # ---------------------------------------------------------------- categories

    def create_category(
        self,
        user: User,
        name: str,
        *,
        color: str = "0088CC",
        text_color: str = "FFFFFF",
        slug: str | None = None,
        parent_category_id: int | None = None,
        permissions: dict[str, int] | None = None,
        description: str | None = None,
        uncategorized: bool = False,
    ) -> Category:
        """Add a category (names are unique among siblings)."""
        for other in self.categories.values():
            if other.name.lower() == name.lower() and other.parent_category_id == parent_category_id:
                raise record_invalid("Category Name has already been taken")
        if parent_category_id is not None and parent_category_id not in self.categories:
            raise record_invalid("Parent category does not exist")
        cid = self.next_id("category")
        category = Category(
            id=cid,
            name=name,
            slug=slug or slugify(name),
            color=color,
            text_color=text_color,
            created_at=self.now(),
            description=description,
            parent_category_id=parent_category_id,
            position=cid,
            permissions=permissions or {"everyone": 1},
            uncategorized=uncategorized,
        )
        self.categories[cid] = category
        self.changed()
        return category

    def category(self, category_id: int, viewer: User | None = None, *, check: bool = False) -> Category:
        """The category with this id, or a 404 (also when ``check`` and the viewer may not see it)."""
        found = self.categories.get(category_id)
        if found is None or (check and not self.can_see_category(viewer, found)):
            raise not_found()
        return found

    def subcategory_ids(self, category: Category) -> list[int]:
        """Direct children of a category."""
        return [c.id for c in self.categories.values() if c.parent_category_id == category.id]

    # ---------------------------------------------------------------- topics and posts

    def _add_post(  # noqa: PLR0917 - internal constructor
        self,
        topic: Topic,
        user: User,
        raw: str,
        now: float,
        reply_to_post_number: int | None = None,
        post_type: int = 1,
        action_code: str | None = None,
    ) -> Post:
        pid = self.next_id("post")
        post = Post(
            id=pid,
            topic_id=topic.id,
            post_number=topic.highest_post_number + 1,
            user_id=user.id,
            raw=raw,
            cooked=cook(raw),
            created_at=now,
            updated_at=now,
            reply_to_post_number=reply_to_post_number,
            post_type=post_type,
            action_code=action_code,
        )
        topic.posts.append(post)
        topic.live_posts += 1
        self.posts[pid] = post
        self.post_ids.append(pid)
        if post_type == 1:
            topic.last_posted_at = now
            topic.last_post_user_id = user.id
            user.post_count += 1
            user.last_posted_at = now
            if reply_to_post_number is not None:
                parent = topic.post_by_number(reply_to_post_number)
                if parent is not None:
                    parent.reply_count += 1
        return post

    def create_topic(
        self,
        user: User,
        title: str,
        raw: str,
        *,
        category_id: int | None = None,
        tags: Iterable[str] = (),
        archetype: str = "regular",
        allowed_users: Iterable[User] = (),
        allowed_groups: Iterable[Group] = (),
        created_at: float | None = None,
        external_id: str | None = None,
    ) -> tuple[Topic, Post]:
        """Add a topic (or PM) with its first post; no validation (see :meth:`check_new_topic`)."""
        now = self.now() if created_at is None else created_at
        tid = self.next_id("topic")
        if archetype == "regular" and category_id is None:
            category_id = 1
        topic = Topic(
            id=tid,
            title=title,
            slug=slugify(title),
            user_id=user.id,
            category_id=category_id,
            archetype=archetype,
            created_at=now,
            bumped_at=now,
            last_posted_at=now,
            last_post_user_id=user.id,
            external_id=external_id,
        )
        if archetype == "private_message":
            topic.allowed_user_ids = [user.id] + [u.id for u in allowed_users if u.id != user.id]
            topic.allowed_group_ids = [g.id for g in allowed_groups]
        for name in tags:
            topic.tags.append(self.ensure_tag(name).name)
        self.topics[tid] = topic
        post = self._add_post(topic, user, raw, now)
        user.topic_count += 1
        user.topic_levels[tid] = 3  # creators watch their topics
        kind = "new_private_message" if topic.private else "new_topic"
        self.add_action(user, ACTION_TYPES[kind], user, topic, post, now)
        if topic.private:
            for uid in topic.allowed_user_ids[1:]:
                self.add_action(self.users[uid], ACTION_TYPES["got_private_message"], user, topic, post, now)
        self.changed()
        return topic, post

    def create_reply(
        self,
        user: User,
        topic: Topic,
        raw: str,
        *,
        reply_to_post_number: int | None = None,
        created_at: float | None = None,
        bump: bool = True,
    ) -> Post:
        """Add a reply to a topic; no validation or notifications (see the app's post creator)."""
        now = self.now() if created_at is None else created_at
        post = self._add_post(topic, user, raw, now, reply_to_post_number)
        if bump:
            topic.bumped_at = now
        self.add_action(user, ACTION_TYPES["reply"], user, topic, post, now)
        self.changed()
        return post

    def add_small_action(self, user: User, topic: Topic, action_code: str) -> Post:
        """A small-action post ("closed.enabled", ...), as status changes leave in a topic."""
        post = self._add_post(
            topic, user, "", self.now(), post_type=POST_TYPES["small_action"], action_code=action_code
        )
        self.changed()
        return post

    def delete_post(self, post: Post, user: User, *, force: bool = False) -> None:
        """Delete a post; deleting the first post deletes the topic, as in Discourse."""
        topic = self.topics[post.topic_id]
        now = self.now()
        if post.post_number == 1:
            topic.deleted_at = now
        if post.deleted_at is None:
            post.deleted_at = now
            topic.live_posts -= 1
            author = self.users.get(post.user_id)
            if author is not None and post.post_type == 1:
                author.post_count = max(0, author.post_count - 1)
        if force:
            topic.posts.remove(post)
            del self.posts[post.id]
            index = bisect.bisect_left(self.post_ids, post.id)
            if index < len(self.post_ids) and self.post_ids[index] == post.id:
                del self.post_ids[index]
        self.changed()

    def ensure_tag(self, name: str) -> Tag:
        """The tag with this name, created if new (names are lower case, spaces become dashes)."""
        clean = re.sub(r"\s+", "-", name.strip().lower())
        if not clean:
            raise record_invalid("Tag name can't be blank")
        tag = self.tags.get(clean)
        if tag is None:
            tag = Tag(id=self.next_id("tag"), name=clean)
            self.tags[clean] = tag
        return tag

    def add_action(  # noqa: PLR0917 - internal bookkeeping
        self, user: User, action_type: int, acting: User, topic: Topic, post: Post | None, now: float
    ) -> None:
        """Append to a user's activity stream."""
        user.actions.append(
            UserAction(
                action_type=action_type,
                user_id=user.id,
                acting_user_id=acting.id,
                topic_id=topic.id,
                post_id=None if post is None else post.id,
                created_at=now,
            )
        )

    def notify(
        self,
        user: User,
        kind: str,
        *,
        topic: Topic | None = None,
        post: Post | None = None,
        data: dict[str, Any] | None = None,
    ) -> Notification:
        """Give a user a notification."""
        note = Notification(
            id=self.next_id("notification"),
            user_id=user.id,
            notification_type=NOTIFICATION_TYPES[kind],
            created_at=self.now(),
            topic_id=None if topic is None else topic.id,
            post_number=None if post is None else post.post_number,
            slug=None if topic is None else topic.slug,
            data=data or {},
            high_priority=kind in ("private_message", "bookmark_reminder"),
        )
        user.notifications.append(note)
        self.changed()
        return note

    def grant_badge(self, user: User, badge: Badge, granted_by: User) -> UserBadge:
        """Grant a badge and notify the user."""
        granted = UserBadge(
            id=self.next_id("user_badge"),
            badge_id=badge.id,
            user_id=user.id,
            granted_at=self.now(),
            granted_by_id=granted_by.id,
        )
        self.user_badges.append(granted)
        badge.grant_count += 1
        self.notify(
            user,
            "granted_badge",
            data={
                "badge_id": badge.id,
                "badge_name": badge.name,
                "badge_slug": badge.slug,
                "badge_title": badge.allow_title,
                "username": user.username,
            },
        )
        return granted
