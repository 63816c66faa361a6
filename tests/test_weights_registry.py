"""The one weights registry (prnet.weights): every shipped file is listed, intact and loadable."""

from __future__ import annotations

import subprocess
import sys

import pytest

from prnet.weights import WEIGHTS, entries, file_sha256, weight_entry


@pytest.mark.parametrize("name", sorted(WEIGHTS))
def test_every_entry_matches_its_bundled_file(name):
    e = weight_entry(name)
    assert e.kind in ("network", "detector", "int8") and e.input_size > 0 and e.licence and e.normalisation
    assert file_sha256(e.path) == e.sha256


def test_both_loaders_read_the_registry():
    from prnet.detect.blazeface import SPECS
    from prnet.models.weights import BUNDLED

    assert {s.weights.name for s in SPECS.values()} == {e.name for e in entries("detector")}
    assert set(BUNDLED.values()) == set(entries("network"))


def test_unknown_name_lists_the_valid_ones():
    from prnet.errors import PRNetError

    with pytest.raises(PRNetError, match="available: mobilenet_unet"):
        weight_entry("nope")


def test_registry_imports_without_torch():
    code = "import sys, prnet.weights; assert 'torch' not in sys.modules and 'numpy' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_both_loaders_refuse_a_bundled_file_that_fails_its_sha256(monkeypatch):
    from dataclasses import replace

    from prnet.detect import blazeface
    from prnet.errors import WeightsError
    from prnet.models import weights

    wrong = "0" * 64
    monkeypatch.setitem(weights.BUNDLED, "mobilenet_unet", replace(weights.BUNDLED["mobilenet_unet"], sha256=wrong))
    with pytest.raises(WeightsError, match="corrupt \\(sha256 mismatch\\)"):
        weights.load_model("mobilenet_unet")
    spec = blazeface.SPECS["short"]
    monkeypatch.setitem(blazeface.SPECS, "short", replace(spec, weights=replace(spec.weights, sha256=wrong)))
    with pytest.raises(WeightsError, match="corrupt \\(sha256 mismatch\\)"):
        blazeface.load_net("short")
