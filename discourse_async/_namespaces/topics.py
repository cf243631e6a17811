"""``dc.topics``: the generated topics operations plus iterators."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from discourse_async._generated.api.topics import Topics as _Topics
from discourse_async._generated.types import UNSET, Unset
from discourse_async._namespaces import POST_CHUNK, _is_model, _list, _topic_pages
from discourse_async.pagination import Page, Paginator

if TYPE_CHECKING:
    from discourse_async._generated.models import (
        Post,
        Topic,
        TopicListItem,
        TopicListResponse,
        TopicPosts,
    )


class Topics(_Topics):
    """Topic operations, plus iterators over topic lists and a topic's posts."""

    def iter_latest(
        self,
        *,
        order: str | Unset = UNSET,
        ascending: str | Unset = UNSET,
        max_items: int | None = None,
        prefetch: int = 0,
    ) -> Paginator[TopicListItem, TopicListResponse]:
        """Every topic of ``/latest.json``, page after page (``order="created"`` etc.)."""
        return _topic_pages(
            lambda page: self.list_latest_topics(order=order, ascending=ascending, page=page), max_items, prefetch
        )

    def iter_top(
        self,
        *,
        period: str | Unset = UNSET,
        max_items: int | None = None,
        prefetch: int = 0,
    ) -> Paginator[TopicListItem, TopicListResponse]:
        """Every topic of ``/top.json`` for a period (``daily`` ... ``all``)."""
        return _topic_pages(lambda page: self.list_top_topics(period=period, page=page), max_items, prefetch)

    def iter_posts(
        self,
        topic_id: int | str,
        *,
        max_items: int | None = None,
        prefetch: int = 0,
    ) -> Paginator[Post, Topic | TopicPosts]:
        """Every post of a topic, in order, however long the topic.

        ``/t/{id}.json`` gives the first 20 posts and the ids of all of them (``post_stream.stream``);
        the rest are fetched in chunks of 20 ids. Memory holds the id list and one chunk.
        """
        state: dict[str, list[int]] = {}

        async def fetch(offset: int) -> Page[Any, Any]:
            if offset == 0:
                topic = await self.get_topic(id=str(topic_id))
                stream: Any = topic.post_stream
                if not _is_model(stream):
                    return Page(topic, [])
                state["ids"] = ids = [i for i in _list(stream.stream) if isinstance(i, int)]
                first = {p.id: p for p in _list(stream.posts) if _is_model(p)}
                chunk_ids = ids[:POST_CHUNK]
                if all(i in first for i in chunk_ids):
                    posts = [first[i] for i in chunk_ids]
                    return Page(topic, posts, len(chunk_ids) if len(ids) > len(chunk_ids) else None)
            ids = state["ids"]
            chunk_ids = ids[offset : offset + POST_CHUNK]
            response = await self.get_specific_posts_from_topic(id=str(topic_id), post_ids=chunk_ids)
            stream_model: Any = response.post_stream
            posts = _list(stream_model.posts) if _is_model(stream_model) else []
            by_id = {p.id: p for p in posts if _is_model(p)}
            # Discourse answers in its own order and leaves out posts deleted meanwhile: keep stream order.
            ordered = [by_id[i] for i in chunk_ids if i in by_id]
            end = offset + POST_CHUNK
            return Page(response, ordered or posts, end if end < len(ids) else None)

        return Paginator(fetch, 0, max_items=max_items, prefetch=prefetch)
