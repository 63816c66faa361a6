"""Exception types raised by prnet. All derive from :class:`PRNetError` (a ``ValueError``),
so the CLI can turn any of them into one line on stderr and a non-zero exit code."""

from __future__ import annotations


class PRNetError(ValueError):
    """Base class of every error prnet raises on purpose."""


class ImageReadError(PRNetError):
    """An input image is missing, empty, truncated, not an image, or too large."""


class WeightsError(PRNetError):
    """A weights file is missing, corrupt, or does not fit the requested model."""


class AssetMissingError(PRNetError):
    """A data asset (BFM, teacher, dataset) needed by this feature is not available."""


class InputShapeError(PRNetError):
    """An array argument has the wrong shape or dtype."""


class InvalidInputError(PRNetError):
    """A value given to prnet is unusable: a box or landmark set that is not finite, not
    ordered, degenerate or outside the image, or a size out of range (service: HTTP 422)."""


class ReconstructionError(PRNetError):
    """The network's output for a face is not a plausible face (not finite, collapsed to a
    point, or far larger than its crop): broken weights, not a bad input (service: HTTP 500)."""
