"""Live description over real video: what is said as a street changes, and the narrator's rules."""

import threading
import time

import pytest

from assistant.camera import Camera, Frame, SceneChange
from assistant.live import ASKED, CHANGED, NEW, STILL, LiveDescriber, Narrator, Observation, gist, subject


def test_the_narrator_says_a_new_scene_at_once_and_never_the_same_sentence_twice_in_a_row():
    n = Narrator(confirm=2)
    assert n.judge("A dog runs.", "scene") == NEW
    assert n.judge("a dog runs", "scene") is None  # the same words, whatever the case and punctuation
    assert n.judge("The dog runs.", "change") is None  # ... and whatever the articles
    assert n.judge("A cat sits.", "scene") == CHANGED  # told as a change: "Now: A cat sits."


def test_the_narrator_waits_for_a_change_to_be_seen_twice_before_saying_it():
    n = Narrator(confirm=2)
    n.judge("A street.", "scene")
    assert n.judge("People walk down a street.", "change") is None  # once could be the model's noise
    assert n.judge("A man sits.", "change") is None  # a different one starts the count again
    assert n.judge("A man sits.", "change") == CHANGED  # seen twice in a row: said
    assert n.judge("A man sits.", "change") is None


def test_asked_descriptions_are_always_said_and_the_clock_says_still():
    n = Narrator()
    n.judge("A street.", "scene")
    assert n.judge("A street.", "asked") == ASKED
    assert n.judge("A street.", "every") == STILL
    assert n.judge("A dog.", "every") == CHANGED
    assert gist("The man, a dog!") == ("man", "dog")


def test_the_number_of_people_does_not_flip_what_is_said_and_a_flip_back_needs_more_sightings():
    """On the street video "A person." / "People." alternated for 80 s (issue 28)."""
    n = Narrator(confirm=2, recount=1)
    assert n.judge("A person.", "scene") == NEW
    for _ in range(5):  # the describer's near-threshold count of people flickering: never said
        assert n.judge("People.", "change") is None and n.judge("A person.", "change") is None
    assert subject("Two dogs on the grass.") == subject("A dog on the grass.") == ("dog", "on", "grass")
    assert [n.judge("People.", "change") for _ in range(3)] == [None, None, CHANGED]  # a lasting recount: thrice
    assert n.judge("A dog.", "change") is None and n.judge("A dog.", "change") == CHANGED  # something new: twice
    assert [n.judge("People.", "change") for _ in range(3)] == [None, None, CHANGED]  # back: a third sighting
    assert [n.judge("A person.", "change") for _ in range(3)] == [None, None, CHANGED]  # a recount, not recent


def test_a_change_is_told_as_one_and_the_clock_says_still():
    from types import SimpleNamespace

    said = [Observation(SimpleNamespace(sentence="People."), "camera", None, 0.0, 0.0, kind).said
            for kind in (NEW, CHANGED, STILL, ASKED)]
    assert said == ["People.", "Now: People.", "Still: People.", "People."]


class _StillCamera:
    """A camera that shows the same frame for ever (a FrameSource)."""

    name = "still camera"

    def __init__(self, rgb):
        self.ended = threading.Event()
        self.frame = Frame(rgb, 0, time.time())
        self._stop = threading.Event()

    def start(self, on_frame=None, on_status=None):
        def run():
            i = 0
            while not self._stop.wait(0.02):
                i += 1
                self.frame = Frame(self.frame.rgb, i, time.time())
                on_frame(self.frame)

        threading.Thread(target=run, daemon=True).start()
        return self

    def stop(self):
        self._stop.set()

    def latest(self):
        return self.frame


class _Describer:
    """Says the same thing about every frame."""

    def describe(self, images, beam_size=3):
        from types import SimpleNamespace

        return [SimpleNamespace(sentence="A quiet room.", caption=None) for _ in images]


def test_describe_every_n_seconds_speaks_on_a_camera_that_never_changes():
    import numpy as np

    got = []
    live = LiveDescriber(_StillCamera(np.zeros((48, 64, 3), np.uint8)), on_description=got.append,
                         scene=SceneChange(min_interval=0.0), every=0.3).start()
    live.use(_Describer())
    time.sleep(1.2)
    live.stop()
    assert [o.kind for o in got[:3]] == [NEW, STILL, STILL]
    assert got[1].said == "Still: A quiet room."


@pytest.mark.slow
def test_live_description_of_a_street_speaks_as_people_come_and_go(vtest_video, default_describer):
    """OpenCV's 80 s street video, played at four times its speed, with the real bundled model."""
    said = []
    live = LiveDescriber(Camera(str(vtest_video), fps=40), on_description=said.append,
                         scene=SceneChange(min_interval=1.0)).start()
    live.use(default_describer)
    live.wait_idle(90)
    live.stop()
    sentences = [o.said for o in said]
    print(f"vtest.avi: {live.described} frames described, {len(said)} said, {len(set(sentences))} distinct:",
          sentences)
    assert len(said) > 1, sentences
    assert all(gist(a) != gist(b) for a, b in zip(sentences, sentences[1:])), sentences
