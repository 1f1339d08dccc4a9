"""`seesay colour PHOTO...`: the colours of photos, of their centre or of a box in them, and their light."""

from __future__ import annotations

import argparse
import json
import sys

from .arguments import add_speak

HELP = "say the colours in photos (the whole photo, its centre, or a box) and how light they are"
CENTRE = (0.3, 0.3, 0.7, 0.7)  # the middle of the view, where a phone or camera is aimed


def box_argument(text: str) -> tuple[float, ...]:
    """argparse type: a box as fractions of the photo, x0,y0,x1,y1."""
    try:
        box = tuple(float(v) for v in text.split(","))
    except ValueError:
        box = ()
    if len(box) != 4 or not (0 <= box[0] < box[2] <= 1 and 0 <= box[1] < box[3] <= 1):
        raise argparse.ArgumentTypeError(f"expected fractions x0,y0,x1,y1 with x0 < x1, y0 < y1 in 0..1, got {text!r}")
    return box


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("images", nargs="+", metavar="PHOTO", help="photo files, or folders of photos")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--centre", "--center", action="store_true", help="only the centre of the photo")
    where.add_argument("--box", type=box_argument, metavar="X0,Y0,X1,Y1",
                       help="only this part of the photo, as fractions of its width and height (an object's box)")
    p.add_argument("--json", action="store_true", help="one JSON object per photo: colours with shares, and light")
    add_speak(p)


def run(args: argparse.Namespace) -> int:
    from model.describing.colour import colours, say_colours
    from model.describing.light import light_level
    from model.images import display_path as printable

    from ..runtime import Runtime
    from .caption import readable_photos

    runtime = Runtime.load()
    runtime.report_warnings()
    box = CENTRE if args.centre else args.box
    speaker = runtime.speaker(on_status=lambda m: print(f"seesay: {m}", file=sys.stderr)) if args.speak else None
    done, said = 0, []
    try:
        for path, image in readable_photos(args.images):
            done += 1
            found, light = colours(image, box), light_level(image, box)
            sentence = f"{say_colours(found)} {light.said}"
            if args.json:
                print(json.dumps({"path": printable(path), "box": box, "sentence": sentence,
                                  "colours": [{"name": c.name, "term": c.term, "shade": c.shade, "share": c.share}
                                              for c in found],
                                  "light": {"word": light.word, "lightness": round(light.lightness, 1)}}), flush=True)
            else:
                print(f"{printable(path)}\t{sentence}", flush=True)
            if speaker is not None:
                said.append(sentence)
                speaker.say(sentence, interrupt=False)
    finally:
        if speaker is not None:
            from ..speech import speech_seconds

            speaker.available(timeout=sum(speech_seconds(t, speaker.voice) for t in said) + 60)
            speaker.close()
    return 0 if done else 1
