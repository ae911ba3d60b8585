from __future__ import annotations

import pytest

from redact.config import Config, load_settings
from redact.errors import ConfigError


def test_precedence_and_sources(tmp_path, monkeypatch):
    preset = tmp_path / "p.toml"
    preset.write_text('[settings]\nstyle = "pixelate"\ncrf = 22\n')
    monkeypatch.setenv("REDACT_DEVICE", "cpu")
    s = load_settings(str(preset), {"crf": 20})
    assert s.config.style == "pixelate" and s.sources["style"] == "preset:p"
    assert s.config.crf == 20 and s.sources["crf"] == "flag"
    assert s.config.device == "cpu" and s.sources["device"] == "env"
    assert s.sources["margin"] == "default"
    described = s.describe()
    assert described["crf"] == {"value": 20, "source": "flag"}


@pytest.mark.parametrize("overrides, field", [
    ({"style": "smudge"}, "style"),
    ({"categories": "face,cat"}, "category"),
    ({"crf": 99}, "crf"),
    ({"face_threshold": 1.5}, "face_threshold"),
    ({"bogus": 1}, "bogus"),
    ({"crf": "high"}, "crf"),
])
def test_invalid_settings_name_the_field(overrides, field):
    with pytest.raises(ConfigError, match=field):
        load_settings(overrides=overrides)


def test_screen_without_model_says_how_to_add_one():
    with pytest.raises(ConfigError, match="redact models add"):
        Config(categories=("face", "screen"), screen_model=None)


def test_unknown_preset_lists_known():
    with pytest.raises(ConfigError, match="default"):
        load_settings("no-such-preset")


def test_shipped_presets_are_valid():
    from redact.config import list_presets

    names = list_presets()
    assert "default" in names
    for name in names:
        load_settings(name)


def test_import_redact_is_light():
    import subprocess
    import sys

    code = ("import sys, redact; heavy = [m for m in ('torch', 'ultralytics', 'onnxruntime', "
            "'av', 'cv2') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
