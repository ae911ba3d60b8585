"""What a batch reports: one ``FileResult`` per input, and the batch's exit code."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class FileResult:
    input: str
    output: str | None
    audit: str | None
    status: str  # "ok" | "failed" | "skipped"
    error: str | None = None
    seconds: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)
    frames: int = 0
    # None when the output was not looked at again; "clean"; or "review" when the second look
    # still found something outside the paint, or a plan's sealed analysis was edited.
    verdict: str | None = None
    # Hashed once, where they are written; the batch's journal and state reuse them.
    output_sha256: str | None = None
    audit_sha256: str | None = None
    seal: str | None = None  # the plan's seal (run, plan and render)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class BatchReport:
    results: list[FileResult]

    @property
    def ok(self) -> bool:
        return all(r.status != "failed" for r in self.results)

    @property
    def exit_code(self) -> int:
        """0 all ok; 1 any failed; 4 none failed but an output was flagged for review (a
        scheduled job can hold the release back)."""
        if not self.ok:
            return 1
        return 4 if any(r.verdict == "review" for r in self.results) else 0

    def to_dict(self) -> dict[str, Any]:
        return {"results": [r.to_dict() for r in self.results]}


OK_STATUSES = ("ok",)
