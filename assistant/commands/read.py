"""`seesay read PHOTO...`: read the text in photos (signs, labels, letters, screens), line by line, and the
QR codes and barcodes in them."""

from __future__ import annotations

import argparse
import json
import sys

from .arguments import add_speak

HELP = "read the text and codes in photos aloud: signs, labels, letters, screens, QR codes, barcodes"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("images", nargs="+", metavar="PHOTO", help="photo files, or folders to read the photos in")
    p.add_argument("--json", action="store_true",
                   help="one JSON object per photo: lines with confidences and boxes; codes with type, text and box")
    add_speak(p)


def run(args: argparse.Namespace) -> int:
    from model.describing.reading import code_parts
    from model.describing.text_reader import spoken_lines
    from model.images import display_path as printable

    from ..reading import Document
    from ..runtime import Runtime
    from .caption import readable_photos

    runtime = Runtime.load()
    runtime.report_warnings()
    reader = runtime.reader
    speaker = runtime.speaker(on_status=lambda m: print(f"seesay: {m}", file=sys.stderr)) if args.speak else None
    done, said = 0, []
    try:
        for path, image in readable_photos(args.images):
            if why := reader.unreadable(image.size):
                print(f"{printable(path)}: {why}", file=sys.stderr)
            lines, found = reader.read(image), runtime.codes.read(image)
            done += 1
            if args.json:
                print(json.dumps({"path": printable(path), "lines": [
                    {"text": line.text, "confidence": round(line.confidence, 4),
                     "box": [round(float(v), 1) for v in line.box]} for line in lines],
                    "codes": [c.to_json() for c in found.codes]}), flush=True)
            else:
                print(f"{printable(path)}\t{len(lines)} line{'s' * (len(lines) != 1)} of text", flush=True)
                for line in lines:
                    print(f"  {line.text}", flush=True)
                for part in code_parts(found):
                    print(f"  {part.text}", flush=True)
            if speaker is not None:  # every line, in reading order, each its own utterance; then the codes
                document = Document(spoken_lines(lines) + [p.text for p in code_parts(found)])
                texts = [document.intro(), *document.everything()] if document.lines else ["No text or code found."]
                for text in texts:
                    said.append(text)
                    speaker.say(text, kind="reading")
    finally:
        if speaker is not None:
            from ..speech import speech_seconds

            speaker.available(timeout=sum(speech_seconds(t, speaker.voice) for t in said) + 60)  # let it finish
            speaker.close()
    return 0 if done else 1
