"""The optional dependencies of ``prnet batch``, each missing one as one line naming the extra."""

from __future__ import annotations

from types import ModuleType

from prnet.errors import PRNetError


def require_pyarrow() -> ModuleType:
    """``pyarrow`` (``pip install "prnet[batch]"``)."""
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        raise PRNetError('prnet batch writes Parquet with pyarrow, which is not installed: '
                         'pip install "prnet[batch]"') from None
    return pyarrow


def require_ray() -> ModuleType:
    """``ray`` with Ray Data (``pip install "prnet[ray]"``)."""
    try:
        import ray
        import ray.data
    except ImportError:
        raise PRNetError('--engine ray needs Ray Data, which is not installed: '
                         'pip install "prnet[ray]"') from None
    return ray
