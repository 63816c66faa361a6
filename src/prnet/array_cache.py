"""A small thread-safe cache of values keyed by an array's contents: what depends only on the
UV layout's fixed arrays (the triangle list's ``f`` lines, open edges, incidence matrix) or on
one face's texture (its PNG) is made once, not once per file or frame."""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

import numpy as np

__all__ = ["ArrayCache"]

T = TypeVar("T")


class ArrayCache(Generic[T]):
    """The last ``size`` values made by :meth:`get`, newest first.

    A value is found again only for an array equal to the cache's own copy of the one it was
    made from, with the same ``tag``, so changing the caller's array later cannot make it stale.
    Safe in several threads; ``make`` runs outside the lock.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: list[tuple[np.ndarray, Hashable, T]] = []
        self._lock = threading.Lock()

    def get(self, key: np.ndarray, make: Callable[[], T], tag: Hashable = None) -> T:
        """The value made for ``key`` (and ``tag``), calling ``make()`` when there is none."""
        with self._lock:
            for i, (cached, t, value) in enumerate(self._items):
                if t == tag and cached.shape == key.shape and np.array_equal(cached, key):
                    self._items.insert(0, self._items.pop(i))
                    return value
        value = make()
        with self._lock:
            self._items.insert(0, (np.array(key, copy=True), tag, value))
            del self._items[self._size:]
        return value

    def clear(self) -> None:
        """Forget every value."""
        with self._lock:
            self._items.clear()
