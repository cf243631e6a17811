"""discourse-async: an asyncio client for the whole Discourse API.

from discourse_async import Discourse

async with Discourse("https://forum.example.com", api_key="...", api_username="system") as dc:
latest = await dc.topics.list_latest_topics()
"""

from discourse_async._client import DEFAULT_TIMEOUT, Discourse
from discourse_async._enums import NotificationLevel, PostActionType
from discourse_async._exceptions import (
    APIConnectionError,
    APIError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ClientClosedError,
    ConfigurationError,
    ConflictError,
    DiscourseError,
    InternalServerError,
    NotFoundError,
    PathParameterError,
    PermissionDeniedError,
    RateLimitError,
    RedirectError,
    UnprocessableEntityError,
)
from discourse_async._generated.types import UNSET, File, Unset
from discourse_async._limits import Clock, MemoryStore, RateLimit, RateLimitStore, SystemClock
from discourse_async._response import APIResponse
from discourse_async._retries import RetryPolicy
from discourse_async._secrets import Secret
from discourse_async._version import __version__

__all__ = [
    "DEFAULT_TIMEOUT",
    "UNSET",
    "APIConnectionError",
    "APIError",
    "APIResponse",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ClientClosedError",
    "Clock",
    "ConfigurationError",
    "ConflictError",
    "Discourse",
    "DiscourseError",
    "File",
    "InternalServerError",
    "MemoryStore",
    "NotFoundError",
    "NotificationLevel",
    "PathParameterError",
    "PermissionDeniedError",
    "PostActionType",
    "RateLimit",
    "RateLimitError",
    "RateLimitStore",
    "RedirectError",
    "RetryPolicy",
    "Secret",
    "SystemClock",
    "UnprocessableEntityError",
    "Unset",
    "__version__",
]
