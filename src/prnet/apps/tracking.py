"""Multi-face tracking for video: landmark-driven crops, detector only when needed.

Each frame, every track is cropped from its previous landmarks (PRNet's landmark crop, the
same as ``PRN.reconstruct(frame, landmarks=[prev[:, :2]])``) and all faces go through the
network in one batch. The detector runs only

- on the first frame and every ``detect_every`` processed frames (to pick up new faces and
  confirm the tracked ones), and
- when a track looks lost: its new landmark box overlaps the previous one by less than
  ``min_iou``, changed size by more than ``max_scale_change``, is too small, non-finite or
  left the image.

Detections are matched to tracks by box IoU (greedy, best first). A lost track that matches a
detection is re-initialised from it and keeps its id; an unmatched lost track ends. A track
the detector has not confirmed for ``max_misses`` detection rounds in a row ends, and of two
tracks on the same face the newer one ends. Unmatched detections start new tracks. Ids are
never reused.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from prnet.geometry.boxes import box_iou
from prnet.pipeline import PRN, FaceResult

__all__ = ["FaceTracker", "TrackedFace", "box_iou", "reconstruct_in_order"]


def _greedy_match(iou: np.ndarray, threshold: float) -> list[tuple[int, int]]:
    """Pairs (row, col) with IoU ≥ threshold, best first, each row and column used once."""
    pairs: list[tuple[int, int]] = []
    if iou.size == 0:
        return pairs
    order = np.argsort(-iou, axis=None, kind="stable")
    rows, cols = np.unravel_index(order, iou.shape)
    keep = iou[rows, cols] >= threshold
    used_r: set[int] = set()
    used_c: set[int] = set()
    for r, c in zip(rows[keep].tolist(), cols[keep].tolist(), strict=True):  # over face pairs
        if r not in used_r and c not in used_c:
            pairs.append((r, c))
            used_r.add(r)
            used_c.add(c)
    return pairs


def _landmark_box(face: FaceResult) -> np.ndarray:
    k = face.landmarks[:, :2]
    return np.r_[k.min(0), k.max(0)].astype(np.float64)


def reconstruct_in_order(
    prn: PRN,
    frame: np.ndarray,
    boxes: Sequence[np.ndarray] = (),
    landmarks: Sequence[np.ndarray] = (),
    refine_boxes: bool = True,
) -> list[FaceResult]:
    """Like ``prn.reconstruct(frame, boxes=…, landmarks=…)`` in one network batch, but the
    faces come back in input order (boxes first, then landmark sets), not left to right.

    With ``refine_boxes`` a face found from a box is cropped again from its own landmarks and
    run once more, so that every face ends up with the same (landmark) crop policy.
    """
    plans = prn.plan(boxes=boxes, landmarks=[np.asarray(k)[:, :2] for k in landmarks])
    if not plans:
        return []
    posmaps = prn.posmaps(frame, plans)
    if refine_boxes and len(boxes):
        nb = len(boxes)
        plans[:nb], posmaps[:nb] = prn.refined(frame, plans[:nb], posmaps[:nb])
    return prn.faces(frame, plans, posmaps, order="input")


@dataclass
class TrackedFace:
    """A face in one frame.

    Attributes:
        track_id: stable id of the track (0, 1, … in order of appearance).
        face: the reconstruction (raw, not smoothed).
        source: ``"detect"`` when the crop came from the detector this frame (new or
            re-initialised track), else ``"track"``.
    """

    track_id: int
    face: FaceResult
    source: str


@dataclass
class _Track:
    id: int
    face: FaceResult
    misses: int = 0


class FaceTracker:
    """Tracks faces through a sequence of frames (see the module doc).

    Args:
        prn: the reconstructor (its detector and network are used).
        detect_every: run the detector every this many frames (≥ 1) even when tracking is
            fine, to find new faces.
        min_iou: least IoU of a track's landmark box with the previous frame's.
        max_scale_change: largest factor by which a track's box size may change per frame.
        match_iou: least IoU of a detection with a track's box to match it.
        max_misses: detection rounds a track may go unconfirmed before it ends.
        max_faces: track at most this many faces (largest detections first); None: all.

    Attributes:
        detector_calls: how often the detector ran.
    """

    def __init__(
        self,
        prn: PRN,
        detect_every: int = 30,
        min_iou: float = 0.3,
        max_scale_change: float = 1.5,
        match_iou: float = 0.3,
        max_misses: int = 2,
        max_faces: int | None = None,
    ) -> None:
        self.prn = prn
        self.detect_every = max(1, int(detect_every))
        self.min_iou = min_iou
        self.max_scale_change = max_scale_change
        self.match_iou = match_iou
        self.max_misses = max_misses
        self.max_faces = max_faces
        self.detector_calls = 0
        self._tracks: list[_Track] = []
        self._next_id = 0
        self._since_detect = 0
        self._started = False

    @property
    def track_ids(self) -> list[int]:
        """Ids of the live tracks."""
        return [t.id for t in self._tracks]

    def _plausible(self, prev: np.ndarray, new: np.ndarray, shape: tuple[int, ...]) -> bool:
        if not np.isfinite(new).all():
            return False
        size_p = float(np.mean(prev[2:] - prev[:2]))
        size_n = float(np.mean(new[2:] - new[:2]))
        if size_n < 8 or not (
            1 / self.max_scale_change <= size_n / max(size_p, 1e-6) <= self.max_scale_change
        ):
            return False
        cx, cy = (new[:2] + new[2:]) / 2
        if not (0 <= cx < shape[1] and 0 <= cy < shape[0]):
            return False
        return float(box_iou(prev, new)[0, 0]) >= self.min_iou

    def update(self, frame: np.ndarray) -> list[TrackedFace]:
        """Track (and detect) faces in the next frame.

        Args:
            frame: (H, W, 3) uint8 RGB.

        Returns:
            The faces of this frame, by track id.
        """
        prev_boxes = [_landmark_box(t.face) for t in self._tracks]
        faces = reconstruct_in_order(
            self.prn, frame, landmarks=[t.face.landmarks[:, :2] for t in self._tracks]
        )
        ok, lost = [], []
        for t, f, pb in zip(self._tracks, faces, prev_boxes, strict=True):
            if self._plausible(pb, _landmark_box(f), frame.shape):
                t.face = f
                ok.append(t)
            else:
                lost.append((t, pb))
        source = dict.fromkeys((t.id for t in ok), "track")
        self._since_detect += 1
        detect = not self._started or bool(lost) or self._since_detect >= self.detect_every
        self._started = True
        if detect:
            self._since_detect = 0
            self.detector_calls += 1
            dets = self.prn.detect(frame)
            det_boxes = np.array([d.box for d in dets], np.float64).reshape(-1, 4)
            ok, new_tracks = self._match(ok, lost, det_boxes, frame)
            for t in new_tracks:
                source[t.id] = "detect"
        self._tracks = self._dedupe(ok)
        return [
            TrackedFace(t.id, t.face, source[t.id])
            for t in sorted(self._tracks, key=lambda t: t.id)
        ]

    def _match(
        self,
        ok: list[_Track],
        lost: list[tuple[_Track, np.ndarray]],
        det_boxes: np.ndarray,
        frame: np.ndarray,
    ) -> tuple[list[_Track], list[_Track]]:
        boxes = [_landmark_box(t.face) for t in ok] + [pb for _, pb in lost]
        pairs = _greedy_match(box_iou(np.array(boxes).reshape(-1, 4), det_boxes), self.match_iou)
        matched = dict(pairs)
        used = set(matched.values())
        keep = []
        for i, t in enumerate(ok):
            t.misses = 0 if i in matched else t.misses + 1
            if t.misses <= self.max_misses:
                keep.append(t)
        # (re)initialise from detections: lost tracks that matched, then unmatched detections
        init: list[tuple[_Track | None, np.ndarray]] = [
            (t, det_boxes[matched[len(ok) + j]])
            for j, (t, _) in enumerate(lost)
            if len(ok) + j in matched
        ]
        free = [j for j in range(len(det_boxes)) if j not in used]
        free.sort(key=lambda j: -float(np.prod(det_boxes[j, 2:] - det_boxes[j, :2])))
        room = None if self.max_faces is None else max(0, self.max_faces - len(keep) - len(init))
        init += [(None, det_boxes[j]) for j in free[:room]]
        if not init:
            return keep, []
        faces = reconstruct_in_order(self.prn, frame, boxes=[b for _, b in init])
        started = []
        for (t, _), f in zip(init, faces, strict=True):
            if t is None:
                t = _Track(self._next_id, f)
                self._next_id += 1
            t.face, t.misses = f, 0
            started.append(t)
        return keep + started, started

    def _dedupe(self, tracks: list[_Track]) -> list[_Track]:
        """Of two tracks on the same face (IoU > 0.5), keep the older (smaller id)."""
        tracks = sorted(tracks, key=lambda t: t.id)
        if len(tracks) < 2:
            return tracks
        iou = box_iou(
            np.array([_landmark_box(t.face) for t in tracks]),
            np.array([_landmark_box(t.face) for t in tracks]),
        )
        drop = np.triu(iou > 0.5, k=1).any(axis=0)
        return [t for t, d in zip(tracks, drop, strict=True) if not d]
