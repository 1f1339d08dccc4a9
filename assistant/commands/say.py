"""`seesay say TEXT`: speak text, or write it as speech to a WAV file."""

from __future__ import annotations

import argparse
import sys

from ..settings import option
from .arguments import path_text, refuse_a_database, visible

HELP = "speak text, or write it as speech to a WAV file"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("text", help="what to say")
    p.add_argument("--to", type=path_text, metavar="FILE.wav", help="write a WAV file instead of playing")
    p.add_argument("--rate", type=option("rate"), metavar="WPM",
                   help="words per minute (default: rate in the settings, 175)")
    p.add_argument("--volume", type=option("volume", float), help="0 to 1 (default: volume in the settings, 1)")
    p.add_argument("--voice", help="a voice id of the speech engine (default: voice in the settings)")


def run(args: argparse.Namespace) -> int:
    from ..runtime import Runtime
    from ..speech import SpeechError, speech_seconds

    if not visible(args.text):
        print("seesay: nothing to say: the text has no visible characters", file=sys.stderr)
        return 2
    if args.to and refuse_a_database(args.to):
        return 2
    runtime = Runtime.load(rate=args.rate, volume=args.volume, voice=args.voice or None)
    runtime.report_warnings()
    speaker = runtime.speaker(on_status=lambda m: print(f"seesay: {m}", file=sys.stderr))
    speaker.set_muted(False)  # asked for in so many words: the settings' speech switch is for descriptions
    try:
        if args.to:
            print(speaker.save(args.text, args.to))
            return 0
        if not speaker.available():
            return 1
        speaker.say(args.text)
        speaker.available(timeout=speech_seconds(args.text, speaker.voice) + 60)  # returns once it has been played
        return 0 if speaker.played else 1
    except SpeechError as exc:
        print(f"seesay: {exc}", file=sys.stderr)
        return 1
    finally:
        speaker.close()
