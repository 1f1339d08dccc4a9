"""Camera frames through OpenCV's capture interface, from real video files (no webcam exists here)."""

import threading

import numpy as np
from PIL import Image

from assistant.camera import Camera, SceneChange
from assistant.live import LiveDescriber
from training.calibrate import content_precision

from .conftest import write_photo_video


def _frames(source, **kw):
    frames = []
    cam = Camera(source, on_frame=frames.append, fps=1000, **kw).start()
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
    described = [f.index for f in frames if scene.is_new(f.rgb, now=f.index / 10)]
    assert len(frames) > 500
    assert described[0] == 0  # the first view is always described
    assert len(described) <= len(frames) / 50  # people walking by do not make a new scene


def test_scene_change_describes_each_of_two_scenes_once(two_scene_video):
    video, _ = two_scene_video
    frames = _frames(str(video))
    scene = SceneChange(min_interval=0.0)
    described = [f.index for f in frames if scene.is_new(f.rgb, now=f.index / 10)]
    assert len(described) == 2
    assert described[0] == 0 and 10 <= described[1] <= 12  # right after the cut, once the view has settled


def test_a_missing_camera_is_reported_once_retried_and_picked_up_when_it_returns(tmp_path, flickr_records):
    messages = []
    missing = tmp_path / "unplugged.avi"
    cam = Camera(str(missing), on_status=messages.append, retry_seconds=(0.05,), fps=1000).start()
    threading.Event().wait(0.5)  # about ten attempts to open it
    assert messages == [f"{missing} is not available; seesay keeps trying to open it."]
    assert cam.latest() is None
    write_photo_video(tmp_path / "plugged.avi", [flickr_records[0].path], seconds_each=0.3)
    (tmp_path / "plugged.avi").rename(missing)  # the camera comes back
    assert cam.ended.wait(10)
    cam.stop()
    assert messages[1:] == [f"{missing} is back.", f"{missing} ended."]
    assert cam.latest() is not None and not cam._thread.is_alive()


def test_live_description_captions_each_new_scene_of_a_video(two_scene_video, default_captioner):
    video, records = two_scene_video
    got = []
    live = LiveDescriber(default_captioner, str(video), on_description=got.append, fps=1000,
                         scene=SceneChange(min_interval=0.0)).start()
    live.wait_idle(60)
    live.stop()
    assert len(got) == 2
    assert all(d.latency > 0 and d.text for d in got)
    # The captions are about the photos shown: content words shared with their human captions.
    precision = [content_precision(d.text, r.captions) for d, r in zip(got, records)]
    assert max(precision) >= 0.5, [d.text for d in got]
