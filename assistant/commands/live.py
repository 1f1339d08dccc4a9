"""`seesay live`: describe what a camera sees, one line each time it changes, without a screen.

This is the line-by-line way to use the camera with a screen reader or braille display: every status the
app would announce (settings problems, the camera missing or back, the model loading, speech problems) is
a `status` line, and each description is a line of its own.
"""

from __future__ import annotations

import argparse

from ..settings import option
from .arguments import add_camera, add_model, add_reading, add_speak, camera_overrides, model_overrides

HELP = "describe what a camera sees, one line each time what is in view changes"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_camera(p)
    p.add_argument("--loop", action="store_true", help="play a video file again at its end")
    p.add_argument("--every", type=option("describe_every", float), metavar="SECONDS",
                   help="also describe every SECONDS (default: describe_every in the settings; 0: off)")
    add_reading(p, live=True)
    add_speak(p)
    add_model(p)


def run(args: argparse.Namespace) -> int:
    from ..runtime import Runtime
    from .lines import LineOutput

    runtime = Runtime.load(**model_overrides(args), **camera_overrides(args), describe_every=args.every,
                           live_text=args.live_text)
    out = LineOutput()
    runtime.report_warnings(out.status)  # on stdout with everything else, so a screen reader follows one stream
    camera = runtime.camera(loop=args.loop)
    if camera is None:
        out.status("Live description needs a camera or a video: --camera N or --video FILE.")
        return 2
    if args.speak:
        out.speaker = runtime.speaker(on_status=out.status)
    every = runtime.settings.describe_every
    live = runtime.live_describer(camera, on_description=out.describe, on_status=out.status).start()
    try:
        out.status("Loading the captioning model.")
        live.use(runtime.frame_describer)
        out.status(f"Describing {live.name} when what is in view changes"
                   f"{f' and every {every:g} seconds' if every else ''}; control C stops.")
        while not live.ended.wait(0.2):
            pass
        live.wait_idle()
    except KeyboardInterrupt:
        pass
    finally:
        live.stop()
        out.close()
    return 0 if live.described else 1
