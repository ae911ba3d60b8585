"""Progress bars (stderr) and the summary table for interactive runs."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table


class BatchProgress:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.console = Console(stderr=True)
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(),
                                 MofNCompleteColumn(), TimeRemainingColumn(),
                                 console=self.console, disable=not enabled, transient=False)

    def __enter__(self) -> BatchProgress:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.__exit__(*exc)

    def for_file(self, path: Path):
        if not self.enabled:
            return None
        task = self.progress.add_task(path.name[:40], total=None)

        def update(done: int, total: int) -> None:
            self.progress.update(task, completed=done, total=total or None)

        return update


def print_summary(report) -> None:
    console = Console()
    table = Table(title="redact")
    for col in ("status", "input", "frames", "redacted", "verdict", "error"):
        table.add_column(col)
    for r in report.results:
        counts = ", ".join(f"{k} {v}" for k, v in sorted(r.counts.items())) or "-"
        color = {"ok": "green", "failed": "red", "skipped": "yellow"}[r.status]
        look = {"review": "[red]review[/red]", "clean": "clean"}.get(r.verdict or "", "-")
        table.add_row(f"[{color}]{r.status}[/{color}]", Path(r.input).name, str(r.frames),
                      counts, look, r.error or "")
    console.print(table)
    failed = sum(r.status == "failed" for r in report.results)
    review = sum(r.verdict == "review" for r in report.results)
    console.print(f"{len(report.results)} file(s), {failed} failed, {review} held for review "
                  "(see the audit records' verdict: second_look, plan.changed)")
