"""The micro-batcher: shared network calls, bounded queue, one bad request fails alone."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from prnet.serve.batching import Batcher
from prnet.serve.errors import ServiceError
from prnet.serve.metrics import Metrics


class _Recording:
    """The session PRN, recording the size of each network call; crops whose first pixel is
    7 make the call fail (a request the network cannot take)."""

    def __init__(self, prn):
        self._prn, self.calls = prn, []

    def __getattr__(self, name):
        return getattr(self._prn, name)

    def predict_crops(self, crops):
        self.calls.append(len(crops))
        if (crops[:, 0, 0, 0] == 7).any():
            raise RuntimeError("poisoned crop")
        return self._prn.predict_crops(crops)


@pytest.fixture(scope="module")
def crops(prn, sample_image_path):
    from prnet.io import read_image

    img = read_image(sample_image_path)
    return prn.crop(img, prn.plan(prn.detect(img), image_shape=img.shape[:2]))


def _run(prn, batches, **kw):
    async def main():
        with ThreadPoolExecutor(1) as pool:
            b = Batcher(prn, pool, **kw)
            try:
                return await asyncio.gather(*(b.predict(x) for x in batches),
                                            return_exceptions=True)
            finally:
                await b.close()
    return asyncio.run(main())


def test_requests_share_one_call(prn, crops):
    rec = _Recording(prn)
    out = _run(rec, [crops] * 4, max_batch=4, wait_ms=60_000)  # full at 4: no waiting
    assert rec.calls == [4]
    want = prn.predict_crops(crops.crops)
    for maps in out:
        np.testing.assert_array_equal(maps, want)


def test_max_batch_1_disables_batching(prn, crops):
    rec = _Recording(prn)
    _run(rec, [crops] * 3, max_batch=1, wait_ms=60_000)
    assert rec.calls == [1, 1, 1]


def test_a_failing_request_fails_alone(prn, crops):
    from prnet.pipeline.posmaps import CropBatch

    poisoned = CropBatch(crops.crops.copy(), crops.matrices, crops.views)
    poisoned.crops[:, 0, 0, 0] = 7
    rec = _Recording(prn)
    out = _run(rec, [crops, poisoned, crops], max_batch=3, wait_ms=60_000, max_queue=8)
    assert isinstance(out[1], RuntimeError)
    assert all(isinstance(o, np.ndarray) for o in (out[0], out[2]))
    assert rec.calls[0] == 3 and sorted(rec.calls[1:]) == [1, 1, 1]  # merged, then one by one


def test_full_queue_is_503(prn, crops):
    metrics = Metrics()
    out = _run(prn, [crops] * 3, max_batch=8, wait_ms=0, max_queue=1, metrics=metrics)
    assert isinstance(out[0], np.ndarray)
    assert all(isinstance(o, ServiceError) and o.status == 503 for o in out[1:])
    assert "prnet_network_calls_total 1" in metrics.render()


def test_no_faces_skip_the_network(prn, crops):
    from prnet.pipeline.posmaps import CropBatch

    rec = _Recording(prn)
    empty = CropBatch(crops.crops[:0], crops.matrices[:0], 1)
    (maps,) = _run(rec, [empty])
    assert maps.shape == (0, 256, 256, 3) and rec.calls == []
