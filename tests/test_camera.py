"""Camera frames through OpenCV's capture interface, from real video files (no webcam exists here)."""

import threading

import numpy as np
from PIL import Image

from assistant.camera import Camera, SceneChange
from assistant.live import LiveDescriber, Narrator
from training.metrics import content_precision

from .conftest import write_photo_video


def _frames(source, **kw):
    frames = []
    cam = Camera(source, fps=1000, **kw).start(on_frame=frames.append)
    assert cam.ended.wait(60)
    cam.stop()
    return frames


def test_camera_frames_are_rgb_like_the_photo(tmp_path, flickr_records):
    photo = next(r.path for r in flickr_records if r.split == "test")
    video = write_photo_video(tmp_path / "one.avi", [photo], seconds_each=0.5)
    frames = _frames(str(video))
    assert len(frames) == 5
    rgb = np.asarray(Image.open(photo).convert("RGB").resize((320, 240), Image.Resampling.BILINEAR), dtype=float)
    got = frames[-1].rgb.astype(float)
    assert np.abs(got - rgb).mean() < np.abs(got[..., ::-1] - rgb).mean() / 2  # RGB order, not OpenCV's BGR


def test_scene_change_describes_a_street_once_not_every_frame(vtest_video):
    frames = _frames(str(vtest_video))
    scene = SceneChange(min_interval=0.0)
    described = [f.index for f in frames if scene.is_new(f.thumb, now=f.index / 10)]
    assert len(frames) > 500
    assert described[0] == 0  # the first view is always described
    assert len(described) <= len(frames) / 50  # people walking by do not make a new scene


def test_people_walking_by_count_as_motion_worth_checking(vtest_video):
    frames = _frames(str(vtest_video))
    scene = SceneChange(min_interval=2.0)
    assert scene.is_new(frames[0].thumb, now=0.0)
    moved = [f.index for f in frames[1:] if scene.moved(f.thumb, now=f.index / 10)]
    assert len(moved) >= 10  # the street is checked again and again as people come and go ...
    assert all(b - a >= 20 for a, b in zip(moved, moved[1:]))  # ... at most every min_interval (2 s at 10 fps)


def test_scene_change_describes_each_of_two_scenes_once(two_scene_video):
    video, _ = two_scene_video
    frames = _frames(str(video))
    scene = SceneChange(min_interval=0.0)
    described = [f.index for f in frames if scene.is_new(f.thumb, now=f.index / 10)]
    assert len(described) == 2
    assert described[0] == 0 and 10 <= described[1] <= 12  # right after the cut, once the view has settled


def test_a_missing_video_file_is_reported_once_and_not_retried(tmp_path):
    messages = []
    missing = tmp_path / "no such video.avi"
    cam = Camera(str(missing), retry_seconds=(0.01,)).start(on_status=messages.append)
    assert cam.ended.wait(10)
    cam.stop()
    assert len(messages) == 1 and f"The video file {missing} does not exist" in messages[0]
    assert all(way in messages[0] for way in ("--camera N", "--video FILE", "--no-camera", "settings"))


def test_a_file_that_is_not_a_video_is_reported_once_and_not_retried(tmp_path, capfd):
    fake = tmp_path / "notes.mp4"
    fake.write_text("these are notes, not a video\n" * 50)
    messages = []
    cam = Camera(str(fake), retry_seconds=(0.01,)).start(on_status=messages.append)
    assert cam.ended.wait(10)
    cam.stop()
    assert messages == [f"{fake} is not a video seesay can read. " + messages[0].split(". ", 1)[1]]
    out, err = capfd.readouterr()
    assert out + err == ""  # FFmpeg's "moov atom not found" does not reach the terminal


def test_a_missing_camera_device_is_reported_once_with_the_other_choices_and_retried(capfd):
    messages = []
    cam = Camera(63, retry_seconds=(0.05,)).start(on_status=messages.append)  # no /dev/video63 here
    threading.Event().wait(0.6)  # several attempts to open it: cameras get plugged in
    assert not cam.ended.is_set() and cam.latest() is None
    cam.stop()
    assert len(messages) == 1 and messages[0].startswith("Camera 63 is not available; seesay keeps trying")
    assert all(way in messages[0] for way in ("--camera N", "--video FILE", "--no-camera", "settings"))
    out, err = capfd.readouterr()
    assert "WARN" not in err + out and "VIDEOIO" not in err + out  # OpenCV's own warnings are silenced


def test_live_description_captions_each_new_scene_of_a_video(two_scene_video, default_describer):
    video, records = two_scene_video
    got = []
    live = LiveDescriber(Camera(str(video), fps=1000), default_describer, on_description=got.append,
                         scene=SceneChange(min_interval=0.0), narrator=Narrator(confirm=1)).start()
    live.wait_idle(60)
    live.stop()
    assert 1 <= len(got) <= 2 and live.described == 2  # both scenes described; said unless the same sentence
    assert all(d.latency > 0 and d.text for d in got)
    # The captions are about the photos shown: content words shared with their human captions.
    precision = [content_precision(d.text, r.captions) for d, r in zip(got, records)]
    assert max(precision) >= 0.5, [d.text for d in got]
