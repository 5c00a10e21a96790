"""Keyset ("Newer" / "Older") paging for lists that grow without bound.

No COUNT and no OFFSET: a page is the rows just after (or before) a cursor row, read along an
index on (``field``, id), newest first. The cursor is a row id; its ``field`` value is read in
the same statement by a subquery, and the id breaks ties between rows with the same value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

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


def int_param(request: HttpRequest, name: str) -> int | None:
    """A cursor or page number from the query string, or None when it is not one."""
    value = request.GET.get(name, "")
    # ASCII digits only ("²" is a digit to str.isdigit but not to int), and within bigint.
    if not (value.isascii() and value.isdigit()) or len(value) > 18:
        return None
    return int(value)
