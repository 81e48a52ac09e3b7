"""A run's inputs, read and checked before anything is written: a bad detection file, an unknown
descriptor or an unreadable checkpoint then ends the run with its results folder as it was."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tools.io.errors import InputError
from tools.io.motformat import MotRows
from tools.io.sequence import Sequence
from tools.track.runner import NO_FRAMES, RunConfig, open_run_descriptor, weighs_appearance


@dataclass
class RunInputs:
    sequences: list[Sequence]                                  # those to track, in order
    rows: dict[str, MotRows]                                   # their detections, by name
    descriptor: object = None                                  # opened once; None: no descriptor
    no_frames: list[Sequence] = field(default_factory=list)    # left out: they have no frames to embed
    weighs_appearance: bool = True                             # the tracker uses features it is given

    @property
    def motion_only(self) -> bool:
        """No appearance at all: no descriptor, and no features in any detection file or a
        tracker that does not use them."""
        files = any(r.feature is not None for r in self.rows.values())
        return self.descriptor is None and not (files and self.weighs_appearance)


def read_inputs(seqs: list[Sequence], cfg: RunConfig, detections: dict[str, Path | None] | None = None,
                save_video: bool = False, skip_no_frames: bool = False) -> RunInputs:
    """Open the descriptor and read every sequence's detections; an InputError on the first bad one.

    A sequence without frames, when the descriptor or the video needs them, is an InputError, or
    with skip_no_frames left out (listed in no_frames); motion-only runs need no frames.
    """
    detections = detections or {}
    descriptor = open_run_descriptor(cfg)
    needs_frames = descriptor is not None or save_video
    todo: list[Sequence] = []
    no_frames: list[Sequence] = []
    for s in seqs:
        (no_frames if needs_frames and not s.has_frames else todo).append(s)
    if no_frames and not skip_no_frames:
        raise InputError(no_frames[0].root, NO_FRAMES)
    rows = {}
    for s in todo:
        path = detections.get(s.name)
        rows[s.name] = s.detections(path) if path else s.detections()
    return RunInputs(todo, rows, descriptor, no_frames, weighs_appearance(cfg))
