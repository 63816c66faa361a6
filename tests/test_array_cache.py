"""ArrayCache: values found again only for equal contents and the same tag, oldest evicted."""

from __future__ import annotations

import numpy as np

from prnet.array_cache import ArrayCache


def test_array_cache_keys_on_contents_and_tag():
    cache: ArrayCache[int] = ArrayCache(2)
    made: list[str] = []

    def make(name: str):
        return lambda: made.append(name) or len(made)

    a = np.arange(6).reshape(2, 3)
    assert cache.get(a, make("a")) == 1
    assert cache.get(a.copy(), make("again")) == 1  # equal contents: no new value
    assert cache.get(a, make("tagged"), tag=True) == 2  # another tag: a value of its own
    a[0, 0] = 99  # the caller's array changed in place: the cached copy no longer matches
    assert cache.get(a, make("changed")) == 3
    assert cache.get(np.arange(6).reshape(2, 3), make("evicted")) == 4  # size 2: the first went
    assert cache.get(np.arange(6).reshape(3, 2), make("shape")) == 5
    cache.clear()
    assert cache.get(a, make("cleared")) == 6
    assert made == ["a", "tagged", "changed", "evicted", "shape", "cleared"]
