"""Path parameters are checked at run time as well as by mypy: a value that is not an id or a name
is a PathParameterError naming the parameter, and nothing is sent."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from discourse_async import Discourse, PathParameterError


def refusing_client() -> Discourse:
    def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"no request may be sent, got {request.url}")

    return Discourse(
        "https://forum.example.com",
        api_key="k" * 64,
        api_username="system",
        transport=httpx.MockTransport(handler),  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("bad", [None, 1.5, 42.0, True, False, "", b"42", [42]])
async def test_bad_path_values_are_refused_before_sending(bad: Any) -> None:
    async with refusing_client() as dc:
        with pytest.raises(PathParameterError, match="'id'"):
            await dc.topics.get_topic(id=bad)
        with pytest.raises(PathParameterError, match="'username'"):
            await dc.users.get_user(username=bad)
        with pytest.raises(PathParameterError, match="'filename'"):
            await dc.backups.download_backup(filename=bad, token="t")


async def test_ints_and_strings_are_taken() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        return httpx.Response(200, json={"id": 42, "post_stream": {"posts": [], "stream": []}})

    async with Discourse(
        "https://forum.example.com",
        api_key="k" * 64,
        api_username="system",
        transport=httpx.MockTransport(handler),  # type: ignore[arg-type]
    ) as dc:
        await dc.topics.get_topic(id=42)
        await dc.topics.get_topic(id="42")
    assert seen == ["/t/42.json", "/t/42.json"]
