"""Hand-written additions to the generated namespaces: the ``iter_*`` pagination methods.

Each subclass adds iterators to the generated namespace of its tag; ``Discourse`` exposes the
subclass under the same attribute (``dc.topics``, ``dc.groups``, ...), so generated operations and
iterators sit side by side.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from discourse_async._generated.api.categories import Categories as _Categories
from discourse_async._generated.api.groups import Groups as _Groups
from discourse_async._generated.api.notifications import Notifications as _Notifications
from discourse_async._generated.api.posts import Posts as _Posts
from discourse_async._generated.api.private_messages import PrivateMessages as _PrivateMessages
from discourse_async._generated.api.search import Search as _Search
from discourse_async._generated.api.tags import Tags as _Tags
from discourse_async._generated.api.topics import Topics as _Topics
from discourse_async._generated.api.users import Users as _Users
from discourse_async._generated.types import UNSET, Unset
from discourse_async.pagination import Page, Paginator

if TYPE_CHECKING:
    from discourse_async._generated.models import (
        AdminListUsersFlagResponse200Item,
        GetNotificationsResponse200,
        GetNotificationsResponse200NotificationsItem,
        GetSpecificPostsFromTopicResponse200,
        GetSpecificPostsFromTopicResponse200PostStreamPostsItem,
        GetTagResponse200,
        GetTagResponse200TopicListTopicsItem,
        GetUserSentPrivateMessagesResponse200,
        GetUserSentPrivateMessagesResponse200TopicListTopicsItem,
        ListCategoryTopicsResponse200,
        ListCategoryTopicsResponse200TopicListTopicsItem,
        ListGroupMembersResponse200,
        ListGroupMembersResponse200MembersItem,
        ListGroupsResponse200,
        ListGroupsResponse200GroupsItem,
        ListLatestTopicsResponse200,
        ListLatestTopicsResponse200TopicListTopicsItem,
        ListPostsResponse200,
        ListPostsResponse200LatestPostsItem,
        ListTopTopicsResponse200,
        ListTopTopicsResponse200TopicListTopicsItem,
        ListUserActionsResponse200,
        ListUserActionsResponse200UserActionsItem,
        ListUserPrivateMessagesResponse200,
        ListUserPrivateMessagesResponse200TopicListTopicsItem,
        ListUsersPublicResponse200,
        ListUsersPublicResponse200DirectoryItemsItem,
        SearchResponse200,
    )

#: How many post ids Discourse serves per /t/{id}/posts.json request (its own chunk size).
POST_CHUNK = 20


def _list(value: Any) -> list[Any]:
    return [] if isinstance(value, Unset) or value is None else list(value)


def _topic_page(response: Any, page: int) -> Page[Any, Any]:
    """Topic lists: 30 per page; ``more_topics_url`` is present only when another page may follow."""
    topic_list = response.topic_list
    if isinstance(topic_list, Unset):
        return Page(response, [])
    return Page(response, _list(topic_list.topics), page + 1 if topic_list.more_topics_url else None)


class Topics(_Topics):
    """Topic operations, plus iterators over topic lists and a topic's posts."""

    def iter_latest(
        self,
        *,
        order: str | Unset = UNSET,
        ascending: str | Unset = UNSET,
        max_items: int | None = None,
        prefetch: int = 0,
    ) -> Paginator[ListLatestTopicsResponse200TopicListTopicsItem, ListLatestTopicsResponse200]:
        """Every topic of ``/latest.json``, page after page (``order="created"`` etc.)."""

        async def fetch(page: int) -> Page[Any, Any]:
            return _topic_page(await self.list_latest_topics(order=order, ascending=ascending, page=page), page)

        return Paginator(fetch, 0, max_items=max_items, prefetch=prefetch)

    def iter_top(
        self,
        *,
        period: str | Unset = UNSET,
        max_items: int | None = None,
        prefetch: int = 0,
    ) -> Paginator[ListTopTopicsResponse200TopicListTopicsItem, ListTopTopicsResponse200]:
        """Every topic of ``/top.json`` for a period (``daily`` ... ``all``)."""

        async def fetch(page: int) -> Page[Any, Any]:
            return _topic_page(await self.list_top_topics(period=period, page=page), page)

        return Paginator(fetch, 0, max_items=max_items, prefetch=prefetch)

    def iter_posts(
        self,
        topic_id: int | str,
        *,
        max_items: int | None = None,
        prefetch: int = 0,
    ) -> Paginator[GetSpecificPostsFromTopicResponse200PostStreamPostsItem, GetSpecificPostsFromTopicResponse200]:
        """Every post of a topic, in order, however long the topic.

        ``/t/{id}.json`` gives the first 20 posts and the ids of all of them (``post_stream.stream``);
        the rest are fetched in chunks of 20 ids. Memory holds the id list and one chunk.
        """
        from discourse_async._generated.models import (
            GetSpecificPostsFromTopicResponse200,
            GetSpecificPostsFromTopicResponse200PostStream,
        )

        state: dict[str, list[int]] = {}

        async def fetch(offset: int) -> Page[Any, Any]:
            if offset == 0:
                topic = await self.get_topic(id=str(topic_id))
                stream = topic.post_stream
                if isinstance(stream, Unset):
                    return Page(topic, [])
                state["ids"] = ids = [int(i) for i in _list(stream.stream)]
                first = {p.id: p for p in _list(stream.posts)}
                # Use one item type for the whole walk: rebuild the first chunk as the chunk model.
                chunk_ids = ids[:POST_CHUNK]
                if all(i in first for i in chunk_ids):
                    body = {"post_stream": {"posts": [first[i].to_dict() for i in chunk_ids]}, "id": topic.id}
                    response = GetSpecificPostsFromTopicResponse200.from_dict(body)
                    posts = _list(response.post_stream.posts)  # type: ignore[union-attr]
                    return Page(response, posts, len(chunk_ids) if len(ids) > len(chunk_ids) else None)
            ids = state["ids"]
            chunk_ids = ids[offset : offset + POST_CHUNK]
            response = await self.get_specific_posts_from_topic(id=str(topic_id), post_ids=chunk_ids)
            stream_model = response.post_stream
            posts = (
                _list(stream_model.posts)
                if isinstance(stream_model, GetSpecificPostsFromTopicResponse200PostStream)
                else []
            )
            by_id = {p.id: p for p in posts}
            # Discourse answers in its own order and leaves out posts deleted meanwhile: keep stream order.
            ordered = [by_id[i] for i in chunk_ids if i in by_id]
            end = offset + POST_CHUNK
            return Page(response, ordered or posts, end if end < len(ids) else None)

        return Paginator(fetch, 0, max_items=max_items, prefetch=prefetch)


class Posts(_Posts):
    """Post operations, plus an iterator over the site's latest posts."""

    def iter_latest(
        self, *, max_items: int | None = None, prefetch: int = 0
    ) -> Paginator[ListPostsResponse200LatestPostsItem, ListPostsResponse200]:
        """Every post of ``/posts.json``, newest first, walking back with ``before=<post id>``."""

        async def fetch(before: int | None) -> Page[Any, Any]:
            response = await self.list_posts(before=UNSET if before is None else before)
            posts = _list(response.latest_posts)
            ids = [p.id for p in posts if isinstance(p.id, int)]
            return Page(response, posts, min(ids) if ids else None)

        return Paginator(fetch, None, max_items=max_items, prefetch=prefetch)


class Categories(_Categories):
    """Category operations, plus an iterator over a category's topics."""

    def iter_topics(
        self, slug: str, id: int | str, *, max_items: int | None = None, prefetch: int = 0
    ) -> Paginator[ListCategoryTopicsResponse200TopicListTopicsItem, ListCategoryTopicsResponse200]:
        """Every topic of a category (``/c/{slug}/{id}.json``)."""

        async def fetch(page: int) -> Page[Any, Any]:
            return _topic_page(await self.list_category_topics(slug=slug, id=int(id), page=page), page)

        return Paginator(fetch, 0, max_items=max_items, prefetch=prefetch)


class Tags(_Tags):
    """Tag operations, plus an iterator over a tag's topics."""

    def iter_topics(
        self, name: str, *, max_items: int | None = None, prefetch: int = 0
    ) -> Paginator[GetTagResponse200TopicListTopicsItem, GetTagResponse200]:
        """Every topic carrying a tag (``/tag/{name}.json``)."""

        async def fetch(page: int) -> Page[Any, Any]:
            return _topic_page(await self.get_tag(name=name, page=page), page)

        return Paginator(fetch, 0, max_items=max_items, prefetch=prefetch)


class PrivateMessages(_PrivateMessages):
    """Private message operations, plus iterators over a user's inbox and sent messages."""

    def iter_inbox(
        self, username: str, *, max_items: int | None = None, prefetch: int = 0
    ) -> Paginator[ListUserPrivateMessagesResponse200TopicListTopicsItem, ListUserPrivateMessagesResponse200]:
        """Every message topic in a user's inbox."""

        async def fetch(page: int) -> Page[Any, Any]:
            return _topic_page(await self.list_user_private_messages(username=username, page=page), page)

        return Paginator(fetch, 0, max_items=max_items, prefetch=prefetch)

    def iter_sent(
        self, username: str, *, max_items: int | None = None, prefetch: int = 0
    ) -> Paginator[GetUserSentPrivateMessagesResponse200TopicListTopicsItem, GetUserSentPrivateMessagesResponse200]:
        """Every message topic a user has sent."""

        async def fetch(page: int) -> Page[Any, Any]:
            return _topic_page(await self.get_user_sent_private_messages(username=username, page=page), page)

        return Paginator(fetch, 0, max_items=max_items, prefetch=prefetch)


class Users(_Users):
    """User operations, plus iterators over the directory, the admin lists and user actions."""

    def iter_directory(
        self,
        *,
        period: str = "all",
        order: str = "likes_received",
        asc: str | Unset = UNSET,
        max_items: int | None = None,
        prefetch: int = 0,
    ) -> Paginator[ListUsersPublicResponse200DirectoryItemsItem, ListUsersPublicResponse200]:
        """Every entry of the user directory (``/directory_items.json``) for a period and order."""

        async def fetch(page: int) -> Page[Any, Any]:
            response = await self.list_users_public(period=period, order=order, asc=asc, page=page)  # type: ignore[arg-type]
            items = _list(response.directory_items)
            meta = response.meta
            more = not isinstance(meta, Unset) and bool(meta.load_more_directory_items)
            return Page(response, items, page + 1 if more else None)

        return Paginator(fetch, 0, max_items=max_items, prefetch=prefetch)

    def iter_admin_list(
        self,
        flag: str = "active",
        *,
        order: str | Unset = UNSET,
        asc: str | Unset = UNSET,
        show_emails: bool | Unset = UNSET,
        max_items: int | None = None,
        prefetch: int = 0,
    ) -> Paginator[AdminListUsersFlagResponse200Item, list[AdminListUsersFlagResponse200Item]]:
        """Every user of an admin list (``active``, ``new``, ``staff``, ``suspended``, ...), 100 a page.

        The admin list numbers pages from 1 and has no marker: an empty page ends it.
        """

        async def fetch(page: int) -> Page[Any, Any]:
            users = await self.admin_list_users_flag(
                flag=flag,  # type: ignore[arg-type]
                order=order,  # type: ignore[arg-type]
                asc=asc,  # type: ignore[arg-type]
                show_emails=show_emails,
                page=page,
            )
            return Page(users, list(users), page + 1)

        return Paginator(fetch, 1, max_items=max_items, prefetch=prefetch)

    def iter_actions(
        self,
        username: str,
        *,
        filter: str | int = "4,5",
        max_items: int | None = None,
        prefetch: int = 0,
    ) -> Paginator[ListUserActionsResponse200UserActionsItem, ListUserActionsResponse200]:
        """Every action of a user (``filter``: action types, e.g. ``"4,5"`` topics and replies).

        ``/user_actions.json`` pages by ``offset``; an empty page ends the list. Discourse can shift
        entries while you read, so items are de-duplicated on (action type, post or topic).
        """

        async def fetch(offset: int) -> Page[Any, Any]:
            response = await self.list_user_actions(offset=offset, username=username, filter_=str(filter))
            actions = _list(response.user_actions)
            return Page(response, actions, offset + len(actions))

        return Paginator(
            fetch,
            0,
            max_items=max_items,
            prefetch=prefetch,
            key=lambda a: (a.action_type, a.post_id, a.topic_id, a.target_user_id),
        )


class Groups(_Groups):
    """Group operations, plus iterators over groups and a group's members."""

    def iter(
        self,
        *,
        filter: str | Unset = UNSET,
        type: str | Unset = UNSET,
        max_items: int | None = None,
        prefetch: int = 0,
    ) -> Paginator[ListGroupsResponse200GroupsItem, ListGroupsResponse200]:
        """Every group visible to the caller.

        ``load_more_groups`` is present even on the last page, so the end is told by
        ``total_rows_groups`` (and an empty page).
        """
        seen = {"count": 0}

        async def fetch(page: int) -> Page[Any, Any]:
            response = await self.list_groups(page=page, filter_=filter, type_=type)
            groups = _list(response.groups)
            seen["count"] += len(groups)
            total = response.total_rows_groups
            more = bool(groups) and (isinstance(total, Unset) or seen["count"] < total)
            return Page(response, groups, page + 1 if more else None)

        return Paginator(fetch, 0, max_items=max_items, prefetch=prefetch)

    def iter_members(
        self,
        name: str,
        *,
        limit: int = 50,
        order: str | Unset = UNSET,
        asc: bool | Unset = UNSET,
        filter: str | Unset = UNSET,
        max_items: int | None = None,
        prefetch: int = 0,
    ) -> Paginator[ListGroupMembersResponse200MembersItem, ListGroupMembersResponse200]:
        """Every member of a group, ``limit`` per request, until ``meta.total`` is reached."""

        async def fetch(offset: int) -> Page[Any, Any]:
            response = await self.list_group_members(
                name=name, offset=offset, limit=limit, order=order, asc=asc, filter_=filter
            )
            members = _list(response.members)
            meta = response.meta
            total = None if isinstance(meta, Unset) or isinstance(meta.total, Unset) else meta.total
            end = offset + len(members)
            more = bool(members) and (total is None or end < total)
            return Page(response, members, end if more else None)

        return Paginator(fetch, 0, max_items=max_items, prefetch=prefetch)


class Search(_Search):
    """Search, plus an iterator over every matching post."""

    def iter(self, q: str, *, max_items: int | None = None, prefetch: int = 0) -> Paginator[Any, SearchResponse200]:
        """Every post matching ``q``, page after page (Discourse numbers search pages from 1)."""

        async def fetch(page: int) -> Page[Any, Any]:
            response = await self.search(q=q, page=page)
            posts = _list(response.posts)
            grouped = response.grouped_search_result
            more = not isinstance(grouped, Unset) and bool(grouped.more_full_page_results)
            return Page(response, posts, page + 1 if more else None)

        return Paginator(fetch, 1, max_items=max_items, prefetch=prefetch)


class Notifications(_Notifications):
    """Notification operations, plus an iterator over all of the acting user's notifications."""

    def iter(
        self,
        *,
        filter: str | Unset = UNSET,
        limit: int = 60,
        max_items: int | None = None,
        prefetch: int = 0,
    ) -> Paginator[GetNotificationsResponse200NotificationsItem, GetNotificationsResponse200]:
        """Every notification, newest first, ``limit`` per request until the total is reached."""

        async def fetch(offset: int) -> Page[Any, Any]:
            response = await self.get_notifications(offset=offset, limit=limit, filter_=filter)  # type: ignore[arg-type]
            items = _list(response.notifications)
            total = response.total_rows_notifications
            end = offset + len(items)
            more = bool(items) and (isinstance(total, Unset) or end < total)
            return Page(response, items, end if more else None)

        return Paginator(fetch, 0, max_items=max_items, prefetch=prefetch)
