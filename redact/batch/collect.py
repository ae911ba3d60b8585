"""Inputs to jobs: folders expanded, outputs mirrored under the output folder, clashes and
unsupported files reported instead of run."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from redact.batch.results import FileResult
from redact.io import IMAGE_EXTS, MEDIA_EXTS, UNREAD_MEDIA_EXTS, output_name
from redact.io.atomic import TMP_MARK


@dataclass(frozen=True)
class Job:
    src: Path
    dst: Path


def collect_jobs(inputs: Iterable[Path | str], out_dir: Path) -> tuple[list[Job], list[FileResult]]:
    """Expand folders recursively. Outputs mirror the path relative to each input folder."""
    out_dir = Path(out_dir).resolve()
    if isinstance(inputs, str | os.PathLike):
        inputs = [inputs]  # one path, not an iterable of its characters
    jobs: list[Job] = []
    early: list[FileResult] = []
    for raw in inputs:
        root = Path(raw).resolve()
        if root.is_dir():
            for path in sorted(p for p in root.rglob("*") if p.is_file()):
                if out_dir in path.parents or TMP_MARK in path.name or any(
                        part == ".redact" for part in path.parts):
                    continue  # never re-redact our own outputs, temporaries or job state
                refused = _refused(path, in_folder=True)
                if refused is not None:
                    early.append(refused)
                else:
                    rel = path.relative_to(root)
                    jobs.append(Job(path, out_dir / rel.with_name(output_name(rel.name))))
        elif root.is_file():
            refused = _refused(root, in_folder=False)
            if refused is not None:
                early.append(refused)
            else:
                jobs.append(Job(root, out_dir / output_name(root.name)))
        else:
            early.append(FileResult(str(root), None, None, "failed", "no such file or folder"))
    # Two inputs mapping to one output (same relative path under two input folders) would
    # silently overwrite each other: the later ones fail instead.
    seen: dict[Path, Path] = {}
    unique: list[Job] = []
    for job in jobs:
        if job.dst in seen:
            early.append(FileResult(str(job.src), None, None, "failed",
                                    f"output {job.dst} would also be written for {seen[job.dst]}; "
                                    "redact these inputs into separate output folders"))
        else:
            seen[job.dst] = job.src
            unique.append(job)
    return unique, early


def release_path(path: Path, root: Path) -> str:
    """``path`` as a POSIX path relative to the release folder ``root``."""
    try:
        return Path(path).resolve().relative_to(Path(root).resolve()).as_posix()
    except ValueError:
        return Path(path).name


def _refused(path: Path, *, in_folder: bool) -> FileResult | None:
    """Why ``path`` gets no job, or None. Pictures and videos of a type redact does not read
    fail; other files fail when named, and are skipped inside a folder (notes, metadata)."""
    suffix = path.suffix.lower()
    if suffix in MEDIA_EXTS:
        return None
    if suffix in UNREAD_MEDIA_EXTS:
        return FileResult(str(path), None, None, "failed",
                          f"{path.suffix} files are not read by redact; convert it to a "
                          f"supported type first (pictures: {' '.join(IMAGE_EXTS)}; videos: "
                          "MP4 or MKV) and redact that")
    if in_folder:
        return FileResult(str(path), None, None, "skipped", "not a supported video or image type")
    return FileResult(str(path), None, None, "failed",
                      f"unsupported file type {path.suffix or '(none)'}; "
                      f"supported: {' '.join(MEDIA_EXTS)}")
