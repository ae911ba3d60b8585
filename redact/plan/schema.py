"""The plan format's JSON Schema, generated from ``RedactionPlan`` (never written by hand).

``python -m redact.plan.schema`` rewrites ``redact/plan/plan.schema.json``, which ships in the
wheel; tests/test_sealed_plan.py fails when the shipped file and the model disagree.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from redact.plan.model import SCHEMA, RedactionPlan

SCHEMA_FILE = Path(__file__).with_name("plan.schema.json")


def plan_schema() -> dict[str, Any]:
    schema = RedactionPlan.model_json_schema(by_alias=True, mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": SCHEMA, **schema}


def render_schema() -> str:
    return json.dumps(plan_schema(), indent=1, sort_keys=True) + "\n"


if __name__ == "__main__":
    SCHEMA_FILE.write_text(render_schema(), encoding="utf-8")
    print(SCHEMA_FILE)
