"""Build src/prnet/assets/uv_layout.npz from the BFM (fetched from PyPI into the cache)."""

from __future__ import annotations

import argparse

import numpy as np

from prnet.bfm import load_bfm
from prnet.uv.build import build_layout
from prnet.uv.layout import default_layout_path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default=str(default_layout_path()))
    args = ap.parse_args()
    arrays = build_layout(load_bfm())
    arrays.pop("vertex_uv")
    np.savez_compressed(args.out, **arrays)
    print(f"wrote {args.out}: {int(arrays['face_mask'].sum())} face texels, "
          f"{len(arrays['triangles'])} triangles")


if __name__ == "__main__":
    main()
