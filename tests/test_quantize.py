"""The int8 models in models/int8/ are rebuilt, byte for byte, by `python -m training.quantize`
from the pinned float models and the tune half of the shared photo sets."""

from __future__ import annotations

import hashlib

import pytest

from tests.conftest import SHARED, shared_data

pytestmark = pytest.mark.models


@pytest.mark.parametrize("name", ["centerface"])
def test_int8_model_is_reproduced_from_the_repository(name, tmp_path):
    from redact.models import ModelStore
    from training.quantize import calibration_images, quantize

    shared_data("faces")  # skips, with the reason, when the shared data is absent
    twin = ModelStore(offline=True).specs()[f"{name}-int8"]
    digest = quantize(name, calibration_images(SHARED), tmp_path / twin.file)
    assert digest == twin.sha256
    assert hashlib.sha256((tmp_path / twin.file).read_bytes()).hexdigest() == digest
