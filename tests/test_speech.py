"""Speech through the real engine (espeak-ng under pyttsx3), measured in the WAV files it writes."""

import subprocess
import sys

import pytest

from assistant.speech import Speaker, SpeechError, Voice, wav_seconds


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


def test_newer_descriptions_interrupt_stale_ones_and_mute_silences(tmp_path):
    import time

    log = tmp_path / "played.txt"
    # A stand-in audio player (the machine has no sound card): logs when it starts and when it finishes.
    player = [sys.executable, "-c",
              f"import time; f = open({str(log)!r}, 'a'); f.write('start\\n'); f.flush(); time.sleep(2); "
              "f.write('end\\n')"]
    messages = []
    s = Speaker(player=player, on_status=messages.append)
    try:
        s.say("the first description")
        while not log.exists():
            time.sleep(0.05)
        for text in ("a stale description", "another stale one", "the newest description"):
            s.say(text)  # each interrupts the one before
        s.available()  # queued last: returns once the newest has been played
        assert s.spoken == 2, messages  # the first, then only the newest: the stale ones were dropped unspoken
        assert log.read_text().split() == ["start", "start", "end"]  # the first was cut off mid-sentence
        s.set_muted(True)
        s.say("said while muted")
        s.available()
        assert s.spoken == 2 and s.last_text == "said while muted"
    finally:
        s.close()
