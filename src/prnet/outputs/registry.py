"""The registry of per-face output formats: one :class:`Output` per name, in writing order.

Everything that lists outputs is generated from here: the ``prnet reconstruct`` / ``prnet
demo`` flags, ``--all``, the defaults, :class:`prnet.outputs.ExportOptions` and the writing
order of :func:`prnet.outputs.export_face`. Adding a format is one module with a
``write(face, base, options) -> list[Path]`` function plus one :func:`register` call below.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from prnet.errors import PRNetError

if TYPE_CHECKING:
    from prnet.outputs.options import ExportOptions
    from prnet.pipeline import FaceResult

__all__ = [
    "Output",
    "Writer",
    "all_names",
    "default_names",
    "get_output",
    "output_names",
    "register",
    "registered",
    "unregister",
]

#: ``write(face, base, options)``: write the files ``<base><suffix>`` of one face, return them.
Writer = Callable[["FaceResult", Path, "ExportOptions"], list[Path]]

_NAME = re.compile(r"[a-z][a-z0-9_]*")


@dataclass(frozen=True)
class Output:
    """One output format of a face.

    Attributes:
        name: the option and flag name (``"obj"`` → ``--obj``, ``ExportOptions(obj=True)``).
        suffixes: the file suffixes it may write after ``<stem>_<i>`` (``(".obj",)``).
        description: one line for ``--help`` (the file names are appended).
        write: the :data:`Writer`.
        default: written when no output is chosen (``prnet reconstruct`` without flags).
        modifier: changes other outputs rather than standing alone (``--front``): choosing
            only modifiers keeps the defaults, and ``--help`` lists it after ``--all``.
        in_all: part of ``--all`` (every result once); False for another container of
            results ``--all`` already writes (``texture``, ``ply``, ``mat``) and for ``front``.
    """

    name: str
    suffixes: tuple[str, ...]
    description: str
    write: Writer
    default: bool = False
    modifier: bool = False
    in_all: bool = True

    @property
    def help(self) -> str:
        """``description (<stem>_<i><first suffix>, <other suffixes>)`` for ``--help``."""
        first, *rest = self.suffixes
        return f"{self.description} ({', '.join([f'<stem>_<i>{first}', *rest])})"


_REGISTRY: dict[str, Output] = {}


def register(output: Output, *, replace: bool = False) -> Output:
    """Add ``output`` after the registered ones (its place in the writing order).

    Raises:
        PRNetError: a name that is not a lowercase identifier, no suffix, or a name already
            registered (unless ``replace``, which keeps the old place).
    """
    if not _NAME.fullmatch(output.name):
        raise PRNetError(f"output name must be a lowercase identifier, got {output.name!r}")
    if not output.suffixes:
        raise PRNetError(f"output {output.name!r}: needs at least one file suffix")
    if output.name in _REGISTRY and not replace:
        raise PRNetError(f"output {output.name!r} is already registered")
    _REGISTRY[output.name] = output
    return output


def unregister(name: str) -> Output:
    """Remove and return the output ``name``.

    Raises:
        PRNetError: not registered.
    """
    return _REGISTRY.pop(get_output(name).name)


def get_output(name: str) -> Output:
    """The registered output ``name``.

    Raises:
        PRNetError: unknown name (the message lists the valid ones).
    """
    try:
        return _REGISTRY[name]
    except KeyError:
        raise PRNetError(f"unknown output {name!r}; valid: {', '.join(_REGISTRY)}") from None


def registered() -> tuple[Output, ...]:
    """Every output, in writing order."""
    return tuple(_REGISTRY.values())


def output_names() -> tuple[str, ...]:
    """Every output name, in writing order."""
    return tuple(_REGISTRY)


def all_names() -> tuple[str, ...]:
    """The outputs of ``--all`` (:attr:`Output.in_all`), in writing order."""
    return tuple(o.name for o in _REGISTRY.values() if o.in_all)


def default_names() -> tuple[str, ...]:
    """The outputs written when none is chosen, in writing order."""
    return tuple(o.name for o in _REGISTRY.values() if o.default)


def _register_builtins() -> None:
    from prnet.outputs import depth, front, glb, kpt, mat, npz, obj, ply, pose, texture, viz

    for entry in (
        Output("obj", (".obj",), "OBJ mesh with per-vertex colours", obj.write, default=True),
        Output("texture", ("_tex.obj", "_tex.mtl", "_tex_texture.png"),
               "OBJ + MTL + PNG UV texture", texture.write, in_all=False),
        Output("front", ("_frontal.obj", "_frontal.ply", "_frontal_tex.obj", "_frontal_tex.mtl",
                         "_frontal_tex_texture.png"),
               "also write frontalised meshes (pose removed, canonical y-up frame) of the "
               "--obj/--ply/--texture meshes (OBJ when none)", front.write, modifier=True,
               in_all=False),
        Output("kpt", ("_kpt.txt", "_kpt.json"), "68 3D landmarks as TXT and JSON", kpt.write,
               default=True),
        Output("pose", ("_pose.txt", "_pose.json"),
               "head pose (yaw, pitch, roll; 3x4 camera) as TXT and JSON", pose.write,
               default=True),
        Output("depth", ("_depth.png", "_depth.npy"), "depth of the face's region: 16-bit PNG (z = png * scale + offset, "
               "scale/offset in <stem>.json) and float32 .npy",
               depth.write),
        Output("mat", (".mat",), "MATLAB .mat with all arrays", mat.write, in_all=False),
        Output("ply", (".ply",), "binary PLY mesh with colours", ply.write, in_all=False),
        Output("npz", (".npz",), "NumPy .npz with all arrays", npz.write),
        Output("viz", tuple(f"_viz_{k}.png" for k in viz.DRAWINGS),
               "PNG drawings of the face's region: landmarks, dense points, pose box, depth, mesh "
               "overlay; plus one <stem>_viz.jpg of all faces", viz.write),
        Output("glb", (".glb",), "binary glTF mesh with the UV texture (PBR material)",
               glb.write),
    ):
        register(entry)


_register_builtins()
