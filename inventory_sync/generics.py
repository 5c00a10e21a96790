"""Subscripting, at runtime, the Django classes that django-stubs makes generic.

django-stubs declares ``ModelAdmin``, ``ModelForm``, model fields and a few others generic (over
the model, or the field's set and get types), so strict mypy wants ``ModelAdmin[Item]``. Django's
own classes cannot be subscripted at runtime, and django-stubs-ext's ``monkeypatch()``, which would
patch them, is a development dependency only. So a module imports the real class when type
checking and ``generic(cls)`` otherwise::

    if TYPE_CHECKING:
        from django.contrib.admin import ModelAdmin
    else:
        ModelAdmin = generic(admin.ModelAdmin)

    class ItemAdmin(ModelAdmin[Item]): ...

Subscripting ``generic(cls)`` gives back ``cls`` itself: the class hierarchy is exactly Django's.
"""

from __future__ import annotations

from typing import Any


class _Subscriptable:
    __slots__ = ("_cls",)

    def __init__(self, cls: type) -> None:
        self._cls = cls

    def __getitem__(self, params: object) -> type:
        return self._cls


def generic(cls: type) -> Any:
    """``cls``, subscriptable: ``generic(cls)[anything]`` is ``cls``."""
    return _Subscriptable(cls)
