"""The speech policy (issue 28): what waits, what comes next, what may cut what; then a real speaker with a
recording audio player, and `seesay read --speak` saying every line of a letter."""

import sys
import time
from pathlib import Path

import pytest

from assistant.speech import Speaker, wav_seconds
from assistant.speech_queue import (
    ANSWER,
    INSTRUCTIONS,
    LIVE,
    PHOTO,
    PROBLEM,
    READING,
    SpeechQueue,
    Utterance,
    photo_subject,
)
from assistant.spoken import relevant


class Clock:
    """A clock the test moves by hand, so that staleness is tested without waiting."""

    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def drain(q):
    out = []
    while (u := q.next(timeout=0)) is not None:
        out.append((u.kind, u.text))
    return out


def test_asked_speech_comes_first_then_problems_photos_and_the_newest_live_line():
    q = SpeechQueue(clock=Clock())
    q.put(Utterance("A person.", LIVE))
    q.put(Utterance("New photo: A dog.", PHOTO, "a dog"))
    q.put(Utterance("Camera lost.", PROBLEM))
    q.put(Utterance("People.", LIVE))  # replaces the waiting live line: it is stale now
    q.put(Utterance("Settings. Tab moves.", INSTRUCTIONS))
    q.put(Utterance("Speak descriptions, switch, on", INSTRUCTIONS))  # the same key's: queued, not cutting
    assert drain(q) == [(INSTRUCTIONS, "Settings. Tab moves."), (INSTRUCTIONS, "Speak descriptions, switch, on"),
                        (PROBLEM, "Camera lost."), (PHOTO, "New photo: A dog."), (LIVE, "People.")]
    assert [u.text for u in q.dropped] == ["A person."]


def test_new_photos_that_pile_up_are_said_as_one_summary():
    q = SpeechQueue(clock=Clock())
    for sentence in ("A dog.", "A cat.", "A person on a bike."):
        q.put(Utterance(f"New photo: {sentence}", PHOTO, photo_subject(sentence)))
    assert drain(q) == [(PHOTO, "3 new photos: a dog, a cat, and a person on a bike.")]
    assert photo_subject("TV on a table.") == "TV on a table"
    for sentence in ("A cat.", "A bus."):
        q.put(Utterance(f"New photo: {sentence}", PHOTO, photo_subject(sentence)))
    assert drain(q) == [(PHOTO, "2 new photos: a cat and a bus.")]


def test_a_live_line_is_dropped_when_stale_and_held_while_an_answer_is_awaited():
    clock = Clock()
    q = SpeechQueue(stale_after=4.0, clock=clock)
    q.put(Utterance("A street.", LIVE))
    clock.now += 5
    assert drain(q) == []  # five seconds old: what is in view may have changed since
    q.expect()  # t was pressed: the text read is on its way
    q.put(Utterance("People.", LIVE))
    assert drain(q) == []  # "Reading." ... "People." would sound as if the text said "People"
    q.put(Utterance("It says, in 1 line:", READING))
    assert drain(q) == [(READING, "It says, in 1 line:"), (LIVE, "People.")]


def test_a_key_press_forgets_earlier_requests_and_scenes_but_keeps_photos_and_problems():
    q = SpeechQueue(clock=Clock())
    for u in (Utterance("line 3", READING), Utterance("A dog.", LIVE), Utterance("New photo: A cat.", PHOTO),
              Utterance("Disk full.", PROBLEM)):
        q.put(u)
    q.key()
    assert drain(q) == [(PROBLEM, "Disk full."), (PHOTO, "New photo: A cat.")]


def test_only_a_live_line_gives_way_and_never_to_another_live_line():
    q = SpeechQueue()
    live, answer = Utterance("People.", LIVE), Utterance("A dog.", ANSWER)
    assert q.cuts(answer, live) and q.cuts(Utterance("New photo: x", PHOTO), live)
    assert not q.cuts(Utterance("A car.", LIVE), live)
    assert not q.cuts(Utterance("A car.", LIVE), answer) and not q.cuts(Utterance("x", PHOTO), answer)
    with pytest.raises(ValueError, match="kind must be one of"):
        Utterance("x", "shout")


# --- a real speaker (espeak-ng) with a recording audio player ---------------------------------------------

RECORDER = """
import os, shutil, sys, time
log, seconds, wav = sys.argv[1], float(sys.argv[2]), sys.argv[3]
n = sum(line.startswith("start") for line in open(log)) if os.path.exists(log) else 0
shutil.copy(wav, f"{log}.{n}.wav")
open(log, "a").write(f"start {n}\\n")
time.sleep(seconds)
open(log, "a").write(f"end {n}\\n")
"""


def recorder(tmp_path, seconds=0.3):
    """A stand-in audio player (there is no sound card here): keeps every WAV it is given, in order, and
    logs when each starts and ends; it takes `seconds` to "play" each."""
    script = tmp_path / "recorder.py"
    script.write_text(RECORDER)
    log = tmp_path / "played.log"
    return [sys.executable, str(script), str(log), str(seconds)], log


def wait_for(condition, seconds=60.0):
    """Wait for a state (never for a time): True once condition() holds, False after seconds."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def started(log, n):
    return log.exists() and f"start {n}" in log.read_text()


def test_an_answer_is_heard_whole_while_live_lines_and_photos_arrive(tmp_path):
    player, log = recorder(tmp_path, seconds=1.0)
    s = Speaker(player=player)
    s.queue.stale_after = 1e9  # this test is about order, not staleness: a loaded machine may be slow
    try:
        s.say("A black dog runs on the beach.", kind=ANSWER)
        assert wait_for(lambda: started(log, 0))
        s.say("A person.", kind=LIVE)  # must not cut the answer
        for sentence in ("A dog.", "A cat.", "A person on a bike."):
            s.say(f"New photo: {sentence}", kind=PHOTO, subject=photo_subject(sentence))
        s.available(timeout=120)
        assert s.history == [(ANSWER, "A black dog runs on the beach.", True),
                             (PHOTO, "3 new photos: a dog, a cat, and a person on a bike.", True),
                             (LIVE, "A person.", True)]
        assert log.read_text().split() == ["start", "0", "end", "0", "start", "1", "end", "1", "start", "2",
                                           "end", "2"]
        s.say("People.", kind=LIVE)
        assert wait_for(lambda: started(log, 3))
        s.say("It says, in 7 lines:", kind=READING)  # an answer cuts a live line
        s.available(timeout=120)
        assert s.history[-2:] == [(LIVE, "People.", False), (READING, "It says, in 7 lines:", True)]
        assert s.repeat() and s.last_answer.text == "It says, in 7 lines:"  # r: the answer, not the live line
    finally:
        s.close()
    # Each recorded WAV is what saving the same text writes (`seesay say --to`): the same length.
    whole = [wav_seconds(tmp_path / f"played.log.{n}.wav") for n in (0, 1)]
    alone = Speaker(player=None)
    texts = ["A black dog runs on the beach.", "3 new photos: a dog, a cat, and a person on a bike."]
    try:
        expected = [wav_seconds(alone.save(t, tmp_path / f"{i}.wav")) for i, t in enumerate(texts)]
    finally:
        alone.close()
    assert whole == pytest.approx(expected, abs=0.02)


def test_seesay_read_speak_says_every_line_of_a_letter_in_order(tmp_path, letter_photo, monkeypatch, capsys):
    """`seesay read --speak` said "It says: Dear Ms Smith, ... And 5 more lines." (issue 28)."""
    from assistant import speech
    from assistant.cli import main

    photo, lines = letter_photo
    player, log = recorder(tmp_path, seconds=0.05)
    monkeypatch.setattr(speech, "audio_player", lambda: player)
    made, close = [], speech.Speaker.close
    monkeypatch.setattr(speech.Speaker, "close", lambda self, finish=0.0: (made.append(self), close(self, finish)))
    assert main(["read", str(photo), "--speak"]) == 0
    speaker = made[0]
    assert speaker.history == [(READING, t, True) for t in [
            "It says, in 7 lines:", "Dear Ms Smith,", "Your appointment at the eye clinic is on",
            "14 March 2027 at 10 30 in room 12.", "Please bring your glasses and this letter.",
            "To change it, call 0 1 6 1, 4 9 6, 0 1 2 3.", "Yours sincerely,", "Eye Clinic Bookings"]]
    assert log.read_text().split()[-2:] == ["end", "7"]  # eight WAVs, each played to its end
    assert capsys.readouterr().out.splitlines()[1:] == [f"  {line}" for line in lines]


@pytest.mark.timeout(300)
def test_seesay_search_speak_says_the_count_then_each_relevant_result_whole(tmp_path, flickr_records, monkeypatch):
    """`seesay search --speak` (issue 28): the count of relevant results first, then each, file names as words."""
    import shutil

    from assistant import speech
    from assistant.cli import main
    from store import Store

    folder, db = tmp_path / "holiday", tmp_path / "index.sqlite"
    folder.mkdir()
    for r in [r for r in flickr_records if r.split == "test"][:3]:
        shutil.copy(r.path, folder / r.path.name)
    assert main(["index", str(folder), "--no-text", "--db", str(db)]) == 0
    with Store(db, writable=False) as store:
        word = max(store.export_rows()[0]["sentence"].rstrip(".").split(), key=len).lower()
        hits = store.text_search(word)
    player, log = recorder(tmp_path, seconds=0.05)
    monkeypatch.setattr(speech, "audio_player", lambda: player)
    made, close = [], speech.Speaker.close
    monkeypatch.setattr(speech.Speaker, "close", lambda self, finish=0.0: (made.append(self), close(self, finish)))
    assert main(["search", word, "--mode", "text", "--db", str(db), "--speak"]) == 0
    said = [t for _, t, whole in made[0].history if whole]
    assert said[0].startswith(f"{len(said)} photo{'s' * (len(said) > 1)} found for {word}. First: ")
    assert len(said) == len(relevant(hits)) and all("in the folder holiday" in t for t in said)
    assert not any(part in t for h in hits for part in Path(h.path).stem.split("_") for t in said)  # camera numbers
    assert log.read_text().split()[-2:] == ["end", str(len(said) - 1)]  # each played to its end


def test_seesay_watch_speak_says_every_new_photo_and_lets_them_be_heard_before_it_ends(tmp_path):
    """`seesay watch DIR --speak` with 3 new photos spoke one (issue 28): its line output now queues them."""
    from types import SimpleNamespace

    from assistant.commands.lines import LineOutput

    player, log = recorder(tmp_path, seconds=0.3)
    out = LineOutput()
    out.speaker = Speaker(player=player)
    caption = SimpleNamespace(confidence=0.9)
    sentences = ["A dog.", "A cat.", "A person on a bike."]
    for i, sentence in enumerate(sentences):
        out.describe(SimpleNamespace(source=str(tmp_path / f"{i}.jpg"), said=sentence, sentence=sentence,
                                     caption=caption, latency=0.1, image=None))
    speaker = out.speaker
    out.close(finish=120)  # as when --seconds ends: what was found is still said
    heard = " ".join(t for k, t, whole in speaker.history if k == PHOTO and whole).lower()
    assert all(s.rstrip(".").lower() in heard for s in sentences), speaker.history
    assert log.read_text().count("end") == len(speaker.history)
