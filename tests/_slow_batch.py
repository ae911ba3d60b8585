"""Helper process for the SIGKILL test: a batch whose scripted detector is slow."""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from redact.batch.jobs import BatchRunner
from redact.batch.runner import FileRunner
from redact.config import load_settings
from tests.conftest import ScriptedDetector, scripted_set


class Slow(ScriptedDetector):
    def detect(self, frames, scale=1.0, *, still=False):
        time.sleep(float(sys.argv[3]))
        return super().detect(frames, scale)



def main() -> None:
    settings = load_settings(overrides={"face_model": "centerface"}, override_source="api")
    runner = FileRunner(settings)
    runner.use_detectors(scripted_set(Slow({})))
    report = BatchRunner(settings, Path(sys.argv[2]), file_runner=runner).run([Path(sys.argv[1])])
    print("done", report.exit_code, flush=True)


if __name__ == "__main__":
    main()
