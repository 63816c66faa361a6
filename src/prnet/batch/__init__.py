"""``prnet batch``: many images → a Parquet dataset with one row per face (plus one per image
without a face or that failed), streamed, resumable after a crash, on this machine's CPUs
(:mod:`~prnet.batch.local`) or on Ray (:mod:`~prnet.batch.ray_engine`).

>>> from prnet.batch import BatchJob, read_dataset, run_batch     # doctest: +SKIP
>>> from prnet.pipeline import ModelOptions                        # doctest: +SKIP
>>> run_batch(BatchJob(["photos/"], "out", workers=2), ModelOptions(device="cpu"))  # doctest: +SKIP
>>> read_dataset("out").to_pandas()                                # doctest: +SKIP

Needs ``pip install "prnet[batch]"`` (pyarrow); the Ray engine ``pip install "prnet[ray]"``.
"""

from __future__ import annotations

from prnet.batch.job import ENGINES, BatchJob, run_batch
from prnet.batch.rows import DENSE_KINDS, decode_posmap, row_schema
from prnet.batch.shards import read_dataset

__all__ = ["DENSE_KINDS", "ENGINES", "BatchJob", "decode_posmap", "read_dataset", "row_schema",
           "run_batch"]
