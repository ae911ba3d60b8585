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
    ({"face_threshold": 1.5}, r"face\.threshold"),
    ({"bogus": 1}, "bogus"),
    ({"crf": "high"}, "crf"),
    ({"face.margin_below": -0.1}, r"face\.margin_below"),
    ({"face_margin_full_height": -1}, r"face\.margin_full_height"),
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


# --- sections: dotted names canonical, flat names of before still accepted --------------------

def test_dotted_names_set_a_section_and_are_recorded():
    s = load_settings(overrides={"face.threshold": 0.2, "plate.size": "960", "margin": 0.3})
    assert (s.config.face.threshold, s.config.plate.size, s.config.margin) == (0.2, 960, 0.3)
    assert s.sources["face.threshold"] == s.sources["plate.size"] == "flag"
    assert s.sources["face.size"] == "default" and "face_threshold" not in s.sources
    described = s.describe()
    assert described["face.threshold"] == {"value": 0.2, "source": "flag"}
    assert described["screen.second_model"] == {"value": "mb3-centernet-coco",
                                                "source": "default"}
    assert set(described) == set(s.sources)


def test_flat_names_map_to_the_sections():
    flat = Config(face_threshold=0.2, plate_size=960, face_second_model="none")
    assert flat == Config(**{"face.threshold": 0.2, "plate.size": 960,
                             "face.second_model": None})
    assert flat == Config(face={"threshold": 0.2, "second_model": "off"}, plate={"size": 960})
    assert (flat.face.threshold, flat.plate.size, flat.face.second_model) == (0.2, 960, None)
    s = load_settings(overrides={"face_threshold": 0.2, "screen_model": "screens-yolov8n"})
    assert s.config.face.threshold == 0.2 and s.sources["face.threshold"] == "flag"
    assert s.sources["screen.model"] == "flag"
    # a flat or dotted name wins over the same setting in a given section
    assert Config(face={"threshold": 0.5}, face_threshold=0.2).face.threshold == 0.2


def test_cli_set_and_flags_take_dotted_and_flat_names():
    from redact.cli.options import Options

    opts = Options(flags={"face_threshold": 0.3, "plate_size": None},
                   set_=["plate.size=1024", "face.second-model=none", "screen_threshold=0.8"])
    s = opts.settings()
    assert (s.config.face.threshold, s.config.plate.size) == (0.3, 1024)
    assert s.config.face.second_model is None and s.config.screen.threshold == 0.8
    assert s.sources["face.threshold"] == s.sources["plate.size"] == "flag"


def test_preset_with_section_tables(tmp_path):
    preset = tmp_path / "p.toml"
    preset.write_text('[settings]\nmargin = 0.3\nplate_threshold = 0.1\n\n'
                      '[settings.face]\nthreshold = 0.05\nsize = 1600\nsecond_model = "none"\n')
    s = load_settings(str(preset), {"face.size": 1280})
    assert (s.config.face.threshold, s.config.face.size) == (0.05, 1280)
    assert s.config.face.second_model is None and s.config.plate.threshold == 0.1
    assert s.sources["face.threshold"] == s.sources["plate.threshold"] == "preset:p"
    assert s.sources["face.size"] == "flag" and s.sources["margin"] == "preset:p"
    bad = tmp_path / "bad.toml"
    bad.write_text('[settings.face]\nthreshold = 0.05\nbogus = 1\n')
    with pytest.raises(ConfigError, match=r"unknown setting 'face\.bogus'"):
        load_settings(str(bad))


def test_a_config_round_trips_through_its_dict():
    for config in (Config(), Config(categories=("face", "screen", "text"), face_threshold=0.2,
                                    screen_second_model="none", plate_tile_scale=0,
                                    face_coarse_size=0, tracking=False, style="solid")):
        data = config.to_dict()
        assert isinstance(data["face"], dict) and "face_threshold" not in data
        assert Config(**data) == config and Config(**data).digest() == config.digest()
    assert Config(face_threshold=0.2).digest() != Config().digest()
    assert Config(offline=True, detect_batch=8).digest() == Config().digest()
    assert Config().replace(**{"face.threshold": 0.2}) == Config(face_threshold=0.2)


@pytest.mark.parametrize("values, message", [
    ({"face_threshold": 1.5}, r"face\.threshold must be between 0 and 1 \(exclusive\), got 1.5"),
    ({"face": {"threshold": 0}}, r"face\.threshold must be between 0 and 1"),
    ({"face.coarse_size": 10}, r"face\.coarse_size must be 0 \(off\) or between 64 and 4096"),
    ({"plate.size": "big"}, r"plate\.size"),
    ({"crf": True}, r"'crf': cannot use True"),
    ({"face.bogus": 1}, r"unknown setting 'face\.bogus'"),
    ({"style": "smudge"}, r"style must be one of blur, pixelate, solid"),
    ({"screen_second_model": "screens-yolov8n"}, r"screen\.second_model must differ"),
])
def test_errors_name_the_setting_by_dotted_name(values, message):
    with pytest.raises(ConfigError, match=message):
        Config(**values)


def test_a_section_alone_names_its_settings():
    from redact.config import FaceSettings

    with pytest.raises(ConfigError, match=r"face\.threshold must be"):
        FaceSettings(threshold=2.0)


def test_render_refuses_an_analysis_setting_by_dotted_name():
    from types import SimpleNamespace

    from redact.batch.runner import render_settings

    plan = SimpleNamespace(settings=Config(face_threshold=0.3).to_dict())
    same = render_settings(plan, load_settings(overrides={"face_threshold": 0.3, "crf": 22}))
    assert same.config == Config(face_threshold=0.3, crf=22)
    assert same.sources["face.threshold"] == "plan" and same.sources["crf"] == "flag"
    with pytest.raises(ConfigError, match=r"face\.threshold = 0\.2 \(flag\) but the plan"):
        render_settings(plan, load_settings(overrides={"face.threshold": 0.2}))
    # a plan of before the sections (flat settings) still renders
    flat = SimpleNamespace(settings={"categories": ["face"], "face_threshold": 0.3})
    assert render_settings(flat, load_settings()).config.face.threshold == 0.3
