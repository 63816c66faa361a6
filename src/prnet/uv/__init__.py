"""prnet's own UV layout of the face (256×256), built from the BFM mean shape."""

from prnet.uv.layout import RES, UVLayout, load_layout

__all__ = ["RES", "UVLayout", "load_layout"]
