"""Speech through the real engine (espeak-ng under pyttsx3), measured in the WAV files it writes."""

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from assistant import speech_engine
from assistant.speech import MAX_TEXT_CHARS, Speaker, SpeechError, Voice, split_text, wav_seconds


@pytest.fixture(scope="module")
def speaker():
    s = Speaker(player=None)
    yield s
    s.close()


def test_speech_writes_a_real_wav_whose_duration_grows_with_the_text(speaker, tmp_path):
    texts = ["A dog.", "A black dog runs on the beach.",
             "A black dog runs on the beach while two children build a sandcastle near the water."]
    seconds = [wav_seconds(speaker.save(t, tmp_path / f"{i}.wav")) for i, t in enumerate(texts)]
    assert seconds[0] > 0.2
    assert seconds[0] < seconds[1] < seconds[2]


def test_a_faster_rate_gives_shorter_speech(tmp_path):
    text = "A man in a red jacket is climbing a rock wall."
    slow, fast = Speaker(Voice(rate=120), player=None), Speaker(Voice(rate=300), player=None)
    try:
        assert wav_seconds(fast.save(text, tmp_path / "fast.wav")) < wav_seconds(slow.save(text, tmp_path / "s.wav"))
    finally:
        slow.close()
        fast.close()


def test_seesay_say_writes_a_wav_and_prints_only_its_path(tmp_path):
    out = tmp_path / "hello.wav"
    run = subprocess.run([sys.executable, "-m", "assistant", "say", "Hello from seesay.", "--to", str(out)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == str(out)  # pyttsx3's own "Audio saved to" line is kept out
    assert wav_seconds(out) > 0.5


def test_without_a_speech_engine_it_says_so_once_and_carries_on(tmp_path):
    def broken():
        raise OSError("libespeak-ng.so.1: cannot open shared object file")

    messages = []
    s = Speaker(engine_factory=broken, on_status=messages.append, player=None)
    try:
        for text in ("one", "two", "three"):
            s.say(text)
        assert not s.available()
        with pytest.raises(SpeechError, match="unavailable"):
            s.save("four", tmp_path / "x.wav")
        assert len(messages) == 1 and "text only" in messages[0]
        assert s.last_text == "three"  # "repeat last" still knows what was said
    finally:
        s.close()


def test_a_key_press_stops_speech_and_what_waits_and_mute_silences(tmp_path):
    import time

    log = tmp_path / "played.txt"
    # A stand-in audio player (the machine has no sound card): logs when it starts and when it finishes.
    player = [sys.executable, "-c",
              f"import time; f = open({str(log)!r}, 'a'); f.write('start\\n'); f.flush(); time.sleep(2); "
              "f.write('end\\n')"]
    messages = []
    s = Speaker(player=player, on_status=messages.append)
    try:
        s.say("the first description", interrupt=True)
        while not log.exists():
            time.sleep(0.05)
        for text in ("a stale description", "another stale one", "the newest description"):
            s.say(text, interrupt=True)  # as a key press does: each stops the one before
        s.available()  # queued last: returns once the newest has been played
        assert s.spoken == 2, messages  # the first, then only the newest: the stale ones were dropped unspoken
        assert log.read_text().split() == ["start", "start", "end"]  # the first was cut off mid-sentence
        s.set_muted(True)
        s.say("said while muted")
        s.available()
        assert s.spoken == 2 and s.last_text == "said while muted"
    finally:
        s.close()


# --- hostile input (issue 12): long text, unwritable paths, a stuck engine ------------------------------

def sentences(n_chars: int) -> str:
    words = "a dog runs on the beach while two children build a sandcastle near the water".split()
    out, i = [], 0
    while sum(len(s) + 1 for s in out) < n_chars:
        out.append(" ".join(words[(i + k) % len(words)] for k in range(9)).capitalize() + ".")
        i += 1
    return " ".join(out)[:n_chars]


def test_text_is_split_into_sentence_chunks_that_keep_every_word():
    text = sentences(5000) + " " + "x" * 1200 + " and then, after a pause, " * 30
    chunks = split_text(text, limit=500)
    assert all(0 < len(c) <= 500 for c in chunks)
    assert "".join(chunks).replace(" ", "") == text.replace(" ", "")
    assert all(c.endswith(".") for c in chunks[:5])  # short sentences are never cut
    assert split_text("A dog. A cat.") == ["A dog. A cat."]


def test_seesay_say_speaks_32000_characters_into_one_wav_without_crashing(tmp_path):
    out = tmp_path / "long.wav"
    run = subprocess.run([sys.executable, "-m", "assistant", "say", sentences(32000), "--to", str(out)],
                         check=False, capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, (run.returncode, run.stderr[-2000:])  # it was -11 (segfault)
    assert "Exception ignored" not in run.stderr
    # ~5,300 words at 175 words a minute: about half an hour of speech, in one file
    assert 20 * 60 < wav_seconds(out) < 60 * 60


def test_a_long_text_is_saved_as_the_chunks_joined(speaker, tmp_path):
    text = sentences(1600)
    whole = wav_seconds(speaker.save(text, tmp_path / "whole.wav"))
    parts = sum(wav_seconds(speaker.save(c, tmp_path / f"{i}.wav")) for i, c in enumerate(split_text(text)))
    assert len(split_text(text)) >= 4
    assert abs(whole - parts) < 0.1  # a lost or doubled chunk would be seconds


def test_text_over_the_limit_is_refused_at_once_with_the_limit(speaker, tmp_path):
    with pytest.raises(SpeechError, match=r"too long to speak \(100,001 characters; the limit is 100,000\)"):
        speaker.save("a" * (MAX_TEXT_CHARS + 1), tmp_path / "x.wav")
    assert not (tmp_path / "x.wav").exists()
    messages = []
    s = Speaker(player=None, on_status=messages.append)
    try:
        s.say("word " * 30000)
        assert messages and "too long to speak" in messages[0]
    finally:
        s.close()


@pytest.mark.parametrize("where, says", [
    ("missing/out.wav", "there is no folder"),
    (".", "it is a directory"),
])
def test_an_unwritable_output_path_is_refused_before_synthesis(speaker, tmp_path, where, says):
    path = tmp_path / where
    with pytest.raises(SpeechError, match=f"cannot write {path}: {says}"):
        speaker.save("Hello.", path, timeout=30)


def test_an_output_folder_without_write_permission_is_refused(speaker, tmp_path):
    if os.geteuid() == 0:  # root may write into any folder; sysfs refuses new files even to root
        folder = Path("/sys/kernel")
        if not folder.is_dir():
            pytest.skip("no /sys/kernel here")
    else:
        folder = tmp_path / "ro"
        folder.mkdir(mode=0o555)
    with pytest.raises(SpeechError, match=f"cannot write {folder}/x.wav: permission denied"):
        speaker.save("Hello.", folder / "x.wav", timeout=30)


def test_seesay_say_to_an_unwritable_path_fails_with_one_line_instead_of_hanging(tmp_path):
    out = tmp_path / "missing" / "x.wav"
    run = subprocess.run([sys.executable, "-m", "assistant", "say", "Hello.", "--to", str(out)],
                         check=False, capture_output=True, text=True, timeout=60)
    assert run.returncode == 1
    assert run.stderr.strip() == f"seesay: cannot write {out}: there is no folder {out.parent}"


def test_a_fifo_as_output_with_no_reader_is_refused_without_blocking(speaker, tmp_path):
    fifo = tmp_path / "out.wav"
    os.mkfifo(fifo)
    with pytest.raises(SpeechError, match="nothing is reading"):
        speaker.save("Hello.", fifo, timeout=30)


def test_a_stuck_engine_gives_an_error_within_its_deadline_and_later_calls_fail_at_once(tmp_path, monkeypatch):
    release = threading.Event()

    class Stuck:  # a pyttsx3 engine whose run loop never ends, as when its callback raised
        def getProperty(self, name):
            return "default"

        def setProperty(self, name, value):
            pass

        def save_to_file(self, text, path):
            pass

        def runAndWait(self):
            release.wait(60)

    monkeypatch.setattr(speech_engine, "ENGINE_BASE_S", 1.0)
    s = Speaker(engine_factory=Stuck, player=None)
    try:
        start = time.monotonic()
        with pytest.raises(SpeechError, match="stopped responding"):
            s.save("Hello.", tmp_path / "x.wav")
        assert time.monotonic() - start < 10
        start = time.monotonic()
        with pytest.raises(SpeechError, match="stopped responding"):
            s.save("Hello again.", tmp_path / "y.wav")
        assert time.monotonic() - start < 1
    finally:
        release.set()
        s.close()


def test_a_long_text_is_played_chunk_by_chunk_in_order(tmp_path):
    log = tmp_path / "played.txt"
    player = [sys.executable, "-c", f"import sys; open({str(log)!r}, 'a').write(sys.argv[1] + '\\n')"]
    s = Speaker(player=player)
    try:
        text = sentences(1600)
        s.say(text)
        s.available(timeout=120)
        assert len(log.read_text().split()) == len(split_text(text)) >= 4
        assert s.spoken == 1 and s.played == 1
    finally:
        s.close()
