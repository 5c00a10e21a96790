"""Keyset ("Newer" / "Older") paging for lists that grow without bound.

No COUNT and no OFFSET: a page is the rows just after (or before) a cursor row, read along an
index on (``field``, id), newest first. The cursor is a row id; its ``field`` value is read in
the same statement by a subquery, and the id breaks ties between rows with the same value.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.core.exceptions import BadRequest
from django.db.models import Model, Q, QuerySet, Subquery
from django.http import HttpRequest

M = TypeVar("M", bound=Model)


@dataclass(frozen=True)
class KeysetPage(Generic[M]):
    rows: list[M]
    newer_cursor: int | None
    older_cursor: int | None


def keyset_page(
    queryset: QuerySet[M],
    field: str,
    *,
    older_than: int | None = None,
    newer_than: int | None = None,
    per_page: int = 50,
) -> KeysetPage[M]:
    def position(cursor: int) -> Any:
        return Subquery(queryset.model._default_manager.filter(id=cursor).values(field)[:1])

    if newer_than is not None:
        at = position(newer_than)
        rows = list(
            queryset.filter(
                Q(**{f"{field}__gt": at}) | Q(**{field: at}, id__gt=newer_than)
            ).order_by(field, "id")[: per_page + 1]
        )
        shown = list(reversed(rows[:per_page]))
        return KeysetPage(
            rows=shown,
            newer_cursor=shown[0].pk if len(rows) > per_page and shown else None,
            older_cursor=shown[-1].pk if shown else None,
        )
    if older_than is not None:
        at = position(older_than)
        queryset = queryset.filter(Q(**{f"{field}__lt": at}) | Q(**{field: at}, id__lt=older_than))
    rows = list(queryset.order_by(f"-{field}", "-id")[: per_page + 1])
    shown = rows[:per_page]
    return KeysetPage(
        rows=shown,
        newer_cursor=shown[0].pk if older_than is not None and shown else None,
        older_cursor=shown[-1].pk if len(rows) > per_page else None,
    )


# The largest PostgreSQL bigint (and SQLite INTEGER): no row id, and no count of rows, is larger.
BIGINT_MAX = 2**63 - 1
# Pages read by OFFSET stop here: page × page size rows are skipped, and nobody reads that far.
MAX_PAGE = 100_000


def int_param(
    request: HttpRequest, name: str, *, minimum: int = 1, maximum: int = BIGINT_MAX
) -> int | None:
    """A cursor or page number from the query string: None when it is absent or empty, a 400
    (``BadRequest``, whose message the 400 page shows) when it is not a whole number from
    ``minimum`` to ``maximum``: a database never sees a number it cannot store."""
    value = request.GET.get(name, "")
    if value == "":
        return None
    # ASCII digits only ("²" is a digit to str.isdigit but not to int); the length check keeps
    # int() from reading a number of a million digits.
    if value.isascii() and value.isdigit() and len(value) <= len(str(maximum)):
        number = int(value)
        if minimum <= number <= maximum:
            return number
    raise BadRequest(f"“{name}” must be a whole number from {minimum} to {maximum}.")


def choice_param(request: HttpRequest, name: str, choices: Iterable[str]) -> str:
    """A filter value from the query string: "" when absent or empty, a 400 when it is not one
    of ``choices``."""
    value = request.GET.get(name, "")
    allowed = list(choices)
    if value == "" or value in allowed:
        return value
    raise BadRequest(f"“{name}” must be one of: {', '.join(allowed)}.")


def text_param(request: HttpRequest, name: str, *, max_length: int = 200) -> str:
    """A search text from the query string, stripped: a 400 when it is longer than
    ``max_length`` or holds a NUL, which PostgreSQL refuses in any string."""
    value = request.GET.get(name, "").strip()
    if len(value) > max_length:
        raise BadRequest(f"“{name}” must be at most {max_length} characters.")
    if "\x00" in value:
        raise BadRequest(f"“{name}” must not contain a null character.")
    return value
