"""The httpx engine: any ``httpx`` transport (mocks, ``ASGITransport``, proxies) behind our interface."""

from __future__ import annotations

import httpx

from discourse_async._engines._types import NotSent, RawResponse, Request


class HttpxEngine:
    """Sends through an ``httpx.AsyncClient`` (any httpx transport works)."""

    name = "httpx"

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def send(self, request: Request, timeout: httpx.Timeout) -> RawResponse:
        """Send with httpx and read the body."""
        built = self.client.build_request(
            request.method, request.url, headers=request.headers, content=request.content, timeout=timeout
        )
        try:
            response = await self.client.send(built)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise NotSent(str(exc)) from exc
        return RawResponse(
            response.status_code,
            response.headers,
            response.content,
            method=request.method,
            url=request.url,
            httpx_response=response,
        )

    async def aclose(self) -> None:
        """Close the httpx client."""
        await self.client.aclose()
