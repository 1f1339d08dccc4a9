"""End-to-end latency of the app: from a new camera frame, or a new photo file, to its caption on screen.

    python benchmarks/assistant_latency.py [--scenes 6] [--photos 6] [--out benchmarks/results/assistant_latency_cpu.json]

The app runs headless (Textual's test driver) with the bundled model. The camera is a video file of real
Flickr8k test photos, each held for a few seconds, read at its own frame rate as a webcam would deliver it:
latency is from the frame that starts a new scene being read to its caption being on screen. For the
watched folder, photos are copied in one by one: latency is from the copy being complete to the caption
on screen, which includes the watcher's wait for the file to settle (`--settle`, 1 s by default).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from report import add_data_argument, peak_rss_mb, save, show

from assistant.app import SeesayApp
from assistant.camera import Camera
from assistant.runtime import Runtime
from assistant.settings import Settings
from assistant.speech import Speaker


def write_photo_video(path: Path, photos: list[Path], seconds_each: float, fps: int = 10) -> Path:
    """A real MJPEG AVI showing each photo in turn for seconds_each."""
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (320, 240))
    for photo in photos:
        frame = cv2.resize(cv2.imread(str(photo)), (320, 240), interpolation=cv2.INTER_AREA)  # BGR
        for _ in range(round(seconds_each * fps)):
            writer.write(frame)
    writer.release()
    return path


def main() -> None:
    p = argparse.ArgumentParser()
    add_data_argument(p)
    p.add_argument("--scenes", type=int, default=6)
    p.add_argument("--photos", type=int, default=6)
    p.add_argument("--out", default="benchmarks/results/assistant_latency_cpu.json")
    args = p.parse_args()
    flickr = Path(args.data) / "flickr8k"
    names = (flickr / "test.txt").read_text().split()
    tmp = Path(tempfile.mkdtemp(prefix="seesay-bench-"))
    video = write_photo_video(tmp / "camera.avi", [flickr / "images" / n for n in names[: args.scenes]], 3.0)
    watched = tmp / "watched"
    watched.mkdir()
    os.environ["SEESAY_CONFIG"] = str(tmp / "settings.toml")
    runtime = Runtime.of(Settings(min_interval=0.0), video=str(video), watch=[str(watched)],
                         db=str(tmp / "index.sqlite"))
    app = SeesayApp(runtime, speaker=Speaker(player=None), camera=Camera(str(video)), semantic=False)
    file_latency = []

    async def drive() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            while app.live is None or not app.live.ended.is_set() or app.live.busy:
                await pilot.pause(0.05)
            await pilot.pause(1.0)
            camera_count = len(app.descriptions)
            for i, name in enumerate(names[100 : 100 + args.photos]):
                shutil.copy(flickr / "images" / name, watched / f"new_{i}.jpg")
                done = time.time()
                while len(app.descriptions) < camera_count + i + 1:
                    await pilot.pause(0.01)
                file_latency.append(time.time() - done)
            await pilot.press("q")

    asyncio.run(drive())
    camera_latency = [lat for d, lat in zip(app.descriptions, app.latencies) if d.image is not None]
    rows = [
        {"path": "camera frame -> caption on screen", "n": len(camera_latency),
         "median_s": statistics.median(camera_latency), "max_s": max(camera_latency)},
        {"path": "photo file complete -> caption on screen", "n": len(file_latency),
         "median_s": statistics.median(file_latency), "max_s": max(file_latency)},
    ]
    show(f"seesay app end-to-end latency, bundled model, beam 3, {os.cpu_count()} CPU cores",
         ("path", "n", "median (s)", "max (s)"),
         ([r["path"], r["n"], f"{r['median_s']:.3f}", f"{r['max_s']:.3f}"] for r in rows),
         f"peak RSS {peak_rss_mb():.0f} MB")
    save(args.out, settle_s=1.0, rows=rows)
    shutil.rmtree(tmp, ignore_errors=True)

if __name__ == "__main__":
    main()
