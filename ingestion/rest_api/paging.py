"""Paging that does not advance is an error: a guard around whichever paginator dlt would use.

dlt's client sends a request, hands the answer to the paginator (``update_state``), lets it
point the same request object at the next page (``update_request``) and stops when it says there
is none. A cursor that comes back, a next link equal to one already followed, or a page number or
offset the API ignores would make that walk endless (holding the run lock). For one walk (from
``init_request``) the guard keeps a fingerprint of every request sent, and for a page number or
offset walk of every non-empty page's records: a next request equal to one already sent, or a
page number or offset answered with an earlier page's records, raises :class:`PagingLoopError`
naming the source and the endpoint.

Retries of one request (429, 5xx, a cut body) happen in the client's session, below the
paginator, so they are never seen here. Records are compared only where the client computes
the position: behind a cursor or a link an API may legitimately re-send the previous page's
records (an overlap) while the cursor moves on. A cursor walk that moves on for ever without
new records is left to the source's time limit.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from dlt.sources.helpers.rest_client.detector import PaginatorFactory
from dlt.sources.helpers.rest_client.exceptions import PaginatorNotFound
from dlt.sources.helpers.rest_client.paginators import BasePaginator, RangePaginator
from dlt.sources.rest_api.config_setup import create_paginator
from requests import PreparedRequest, Request, Response

from ingestion import time_limit


class PagingLoopError(RuntimeError):
    """An endpoint's paging came back to a request or a page it had already read."""


def _digest(value: Any) -> bytes:
    text = json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.blake2b(text.encode(), digest_size=16).digest()


def request_fingerprint(request: Request) -> bytes:
    """What the server is asked: method, URL with the query sorted, JSON and form body."""
    prepared = PreparedRequest()
    prepared.prepare_url(request.url or "", request.params)
    url, _, query = str(prepared.url).partition("?")
    pairs = sorted(part for part in query.split("&") if part)
    method = str(request.method or "GET").upper()
    return _digest([method, url, pairs, request.json, str(request.data or "")])


class PagingGuard(BasePaginator):
    """Delegates to a paginator of any type (or the one dlt detects) and stops endless walks."""

    def __init__(self, source: str, resource: str, path: str, inner: BasePaginator | None):
        super().__init__()
        self.source, self.resource, self.path = source, resource, path
        self.inner = inner
        self._request: Request | None = None
        self._sent: dict[bytes, int] = {}
        self._pages: dict[bytes, int] = {}
        self._page = 0

    @property
    def has_next_page(self) -> bool:
        return True if self.inner is None else self.inner.has_next_page

    def init_request(self, request: Request) -> None:
        self._request, self._sent, self._pages, self._page = request, {}, {}, 0
        if self.inner is not None:
            self.inner.init_request(request)

    def update_state(self, response: Response, data: list[Any] | None = None) -> None:
        time_limit.check()
        self._page += 1
        if self._request is not None:
            self._sent.setdefault(request_fingerprint(self._request), self._page)
        if self.inner is None:  # no paginator declared: dlt's detection, as dlt does it
            self.inner, _ = PaginatorFactory().create_paginator(response)
            if self.inner is None:
                raise PaginatorNotFound(f"no paginator found for endpoint {self._where()}")
        if data and isinstance(self.inner, RangePaginator):
            earlier = self._pages.setdefault(_digest(data), self._page)
            if earlier != self._page:
                raise self._loop(
                    f"page {self._page} holds the same {len(data)} records as page {earlier}"
                    " (the API ignored the page number or offset it was asked for)"
                )
        self.inner.update_state(response, data)

    def update_request(self, request: Request) -> None:
        assert self.inner is not None
        self.inner.update_request(request)
        if not self.inner.has_next_page:
            return
        earlier = self._sent.get(request_fingerprint(request))
        if earlier is not None:
            raise self._loop(
                f"after page {self._page} the {type(self.inner).__name__} asks for page "
                f"{earlier} again (its cursor or next link did not advance)"
            )

    def _where(self) -> str:
        path = self.path.strip("/")
        return repr(self.resource) if path == self.resource else f"{self.resource!r} ({path})"

    def _loop(self, what: str) -> PagingLoopError:
        return PagingLoopError(
            f"source {self.source!r}, endpoint {self._where()}: paging does not advance: {what};"
            " stopped before loading anything of this run"
        )

    def __str__(self) -> str:
        return f"PagingGuard({self.inner})"


def guarded(source: str, resource: str, path: str, declared: Any) -> PagingGuard:
    """A guard around the paginator ``declared`` in the sources file (dlt's config forms)."""
    inner = create_paginator(declared) if declared is not None else None
    return PagingGuard(source, resource, path, inner)
