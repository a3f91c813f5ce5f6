"""A blocking ``fetch(url) -> bytes`` for synchronous code, served by one asyncio worker thread.

The 2025-10-17 essay's pattern in Python: the caller hands the request to a worker that does the
asynchronous HTTP request (httpx) and parks until the worker answers. Where the JavaScript parks on
``Atomics.wait`` over a SharedArrayBuffer, a Python caller parks on the ``concurrent.futures.Future``
that ``asyncio.run_coroutine_threadsafe`` returns. Many threads may call at once; their requests run
concurrently on the one event loop.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import threading

import httpx

from blogtools.errors import BlogtoolsError

DEFAULT_TIMEOUT = 10.0


class FetchError(BlogtoolsError):
    """A fetch that did not return a body; ``status`` is the HTTP status, or None for no response."""

    def __init__(self, url: str, reason: str, status: int | None = None):
        super().__init__(f"{url}: {reason}")
        self.url = url
        self.status = status


class SyncFetcher:
    """Owns the asyncio worker thread and its HTTP client; ``fetch`` may be called from any thread."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="syncfetch", daemon=True)
        self._thread.start()
        self._client = asyncio.run_coroutine_threadsafe(self._open_client(), self._loop).result()

    async def _open_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(follow_redirects=True, limits=httpx.Limits(max_connections=None))

    async def _get(self, url: str, timeout: float) -> bytes:
        try:
            response = await self._client.get(url, timeout=timeout)
        except httpx.TimeoutException:
            raise FetchError(url, f"timed out after {timeout:g} s") from None
        except httpx.HTTPError as exc:
            raise FetchError(url, str(exc) or type(exc).__name__) from None
        if response.is_error:
            raise FetchError(url, f"HTTP {response.status_code}", response.status_code)
        return response.content

    def fetch(self, url: str, timeout: float = DEFAULT_TIMEOUT) -> bytes:
        """GET ``url`` and return the body; raise FetchError on an HTTP error, failure or timeout."""
        if self._loop.is_closed():
            raise FetchError(url, "the fetcher is closed")
        future = asyncio.run_coroutine_threadsafe(self._get(url, timeout), self._loop)
        try:
            # httpx's timeout applies per phase; this bounds the whole request.
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise FetchError(url, f"timed out after {timeout:g} s") from None

    def close(self) -> None:
        """Close the HTTP client and stop the worker thread."""
        if self._loop.is_closed():
            return
        asyncio.run_coroutine_threadsafe(self._client.aclose(), self._loop).result()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()


_default: SyncFetcher | None = None
_default_lock = threading.Lock()


def fetch(url: str, timeout: float = DEFAULT_TIMEOUT) -> bytes:
    """Blocking GET through the process-wide SyncFetcher (started on first use)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = SyncFetcher()
            atexit.register(_default.close)
    return _default.fetch(url, timeout)
