"""The three services' public APIs, called with the signed-in partner's key like any
client. The key travels only in the Authorization header; it is never logged."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import aiohttp

from shared.logging import get_logger

log = get_logger(__name__)

Service = Literal["registration", "matching", "notification"]
PAGE_LIMIT = 500
MAX_PAGES = 200  # a dashboard reads at most this many pages of one list


class ApiError(Exception):
    """A service answered with an error: its status and problem details."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        super().__init__(f"{status}: {problem.get('title', '')}")
        self.status = status
        self.problem = problem

    @property
    def detail(self) -> str:
        return str(self.problem.get("detail") or self.problem.get("title") or self.status)

    def fields(self) -> dict[str, str]:
        """Field name -> message, from a 422's problem details."""
        out: dict[str, str] = {}
        for err in self.problem.get("errors") or []:
            if isinstance(err, dict):
                name = str(err.get("field") or err.get("loc") or "")
                out[name] = str(err.get("message") or err.get("msg") or "")
        if not out and self.problem.get("field"):
            out[str(self.problem["field"])] = self.detail
        return out


@dataclass(frozen=True)
class Download:
    body: bytes
    content_type: str
    disposition: str | None


class Services:
    """One HTTP client session for the console's life, and the services' base URLs."""

    def __init__(self, urls: dict[Service, str], timeout_seconds: float) -> None:
        self.urls = {name: url.rstrip("/") for name, url in urls.items()}
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._session: aiohttp.ClientSession | None = None

    async def open(self) -> None:
        self._session = aiohttp.ClientSession(timeout=self._timeout)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("Services.open() was not called")
        return self._session

    def _headers(self, key: str, correlation_id: str | None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {key}", "Accept": "application/json"}
        if correlation_id:
            headers["X-Correlation-ID"] = correlation_id
        return headers

    async def call(
        self,
        key: str,
        service: Service,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        correlation_id: str | None = None,
    ) -> Any:
        """The JSON answer, or None for 204. Raises ApiError for a 4xx/5xx answer."""
        url = self.urls[service] + path
        headers = self._headers(key, correlation_id)
        async with self.session.request(
            method, url, params=_query(params), json=body, headers=headers
        ) as resp:
            if resp.status == 204:
                return None
            data = await resp.json(content_type=None) if resp.content_length != 0 else None
            if resp.status >= 400:
                log.info("console.api_error", service=service, path=path, status=resp.status)
                raise ApiError(resp.status, data if isinstance(data, dict) else {})
            return data

    async def download(
        self, key: str, service: Service, path: str, params: dict[str, Any] | None = None
    ) -> Download:
        """A file the API renders (CSV, iCalendar), passed on as it is."""
        url = self.urls[service] + path
        async with self.session.get(
            url, params=_query(params), headers=self._headers(key, None)
        ) as resp:
            body = await resp.read()
            if resp.status >= 400:
                raise ApiError(resp.status, {"title": resp.reason or ""})
            return Download(
                body, resp.headers.get("Content-Type", ""), resp.headers.get("Content-Disposition")
            )

    async def every(
        self,
        key: str,
        service: Service,
        path: str,
        params: dict[str, Any] | None = None,
        correlation_id: str | None = None,
    ) -> list[dict[str, Any]]:
        """Every item of a paginated list, following its cursors."""
        items: list[dict[str, Any]] = []
        query = {**(params or {}), "limit": PAGE_LIMIT}
        for _ in range(MAX_PAGES):
            page = await self.call(
                key, service, "GET", path, params=query, correlation_id=correlation_id
            )
            items += page["items"]
            if not page.get("next_cursor"):
                break
            query["cursor"] = page["next_cursor"]
        return items


def _query(params: dict[str, Any] | None) -> dict[str, str] | None:
    if params is None:
        return None
    return {k: str(v) for k, v in params.items() if v is not None}
