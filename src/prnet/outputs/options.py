"""Which outputs to write, and how: :class:`ExportOptions`, generated from the registry."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from prnet.errors import PRNetError
from prnet.geometry.uv import UV_RES
from prnet.outputs.registry import all_names, default_names, output_names
from prnet.validation import check_size

__all__ = ["ExportOptions"]


class ExportOptions:
    """The outputs :func:`prnet.outputs.export_face` writes: one switch per registered output
    (``options.obj``, ``options.glb``, …) plus the texture settings. Immutable.

    ``ExportOptions()`` has the defaults of ``prnet reconstruct`` without output flags (the
    registry's defaults: ``obj``, ``kpt``, ``pose``); keywords switch outputs on or off
    (``ExportOptions(ply=True, obj=False)``). Use :meth:`all` for everything or
    :meth:`from_names` for exactly a selection.

    Args:
        texture_size: side of the UV texture image in pixels (``texture``, ``glb``), 16..4096.
        mask_invisible: black out texels hidden by the face itself in the UV texture.
        full_frame: per-face image outputs (``viz`` drawings, ``depth``) cover the whole image,
            as before version 2 of the outputs, instead of the face's region (its mesh box plus
            :data:`prnet.outputs.regions.MARGIN`), and no combined ``<stem>_viz.jpg``.
        **switches: ``name=bool`` for registered outputs.

    Raises:
        PRNetError: an unknown output name. InvalidInputError: ``texture_size`` not an
            integer in [16, 4096].
    """

    __slots__ = ("_names", "full_frame", "mask_invisible", "texture_size")

    def __init__(self, *, texture_size: int = UV_RES, mask_invisible: bool = False,
                 full_frame: bool = False, **switches: bool) -> None:
        _check_names(switches)
        on = {n for n in default_names() if switches.get(n, True)}
        on |= {n for n, v in switches.items() if v}
        check_size("texture_size", texture_size)
        object.__setattr__(self, "_names", frozenset(on))
        object.__setattr__(self, "texture_size", texture_size)
        object.__setattr__(self, "mask_invisible", mask_invisible)
        object.__setattr__(self, "full_frame", bool(full_frame))

    @classmethod
    def from_names(cls, names: Iterable[str], **kwargs: Any) -> ExportOptions:
        """Options with exactly the outputs ``names`` (e.g. ``["ply", "kpt"]``) switched on.

        Raises:
            PRNetError: an unknown output name (the message lists the valid ones).
        """
        chosen = set(names)
        _check_names(chosen)
        return cls(**{n: n in chosen for n in output_names()}, **kwargs)

    @classmethod
    def all(cls, **kwargs: Any) -> ExportOptions:
        """The outputs of ``--all``: every result once (:func:`~prnet.outputs.all_names`;
        not ``texture``, ``ply``, ``mat``, ``front``)."""
        return cls.from_names(all_names(), **kwargs)

    @classmethod
    def every(cls, **kwargs: Any) -> ExportOptions:
        """Every registered output switched on (``prnet demo``)."""
        return cls.from_names(output_names(), **kwargs)

    @property
    def names(self) -> list[str]:
        """The outputs switched on, in writing (registry) order."""
        return [n for n in output_names() if n in self._names]

    def to_json(self) -> dict[str, Any]:
        """``{"outputs": names, "texture_size", "mask_invisible", "full_frame"}``, as recorded
        in ``<stem>.json``."""
        return {"outputs": self.names, "texture_size": int(self.texture_size),
                "mask_invisible": bool(self.mask_invisible), "full_frame": bool(self.full_frame)}

    def __getattr__(self, name: str) -> bool:
        if name in output_names():
            return name in self._names
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __contains__(self, name: str) -> bool:
        return name in self._names

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ExportOptions):
            return NotImplemented
        return self.to_json() == other.to_json()

    def __hash__(self) -> int:
        return hash((self._names, int(self.texture_size), bool(self.mask_invisible),
                     self.full_frame))

    def __reduce__(self) -> tuple[Any, ...]:
        return _restore, (tuple(self.names), self.texture_size, self.mask_invisible,
                          self.full_frame)

    def __repr__(self) -> str:
        return (f"ExportOptions(outputs={self.names}, texture_size={self.texture_size}, "
                f"mask_invisible={self.mask_invisible}, full_frame={self.full_frame})")


def _check_names(names: Iterable[str]) -> None:
    unknown = sorted(set(names) - set(output_names()))
    if unknown:
        raise PRNetError(f"unknown outputs {unknown}; valid: {', '.join(output_names())}")


def _restore(names: tuple[str, ...], texture_size: int, mask_invisible: bool,
             full_frame: bool = False) -> ExportOptions:
    return ExportOptions.from_names(names, texture_size=texture_size,
                                    mask_invisible=mask_invisible, full_frame=full_frame)
