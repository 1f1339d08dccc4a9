"""The commands without a screen: `seesay say`, `seesay live` and `seesay watch`.

Each prints one line per description (or status change) on stdout, for scripts, servers and screen
readers that follow a terminal's output.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

from .settings import Settings, load_settings


def _settings() -> Settings:
    settings, warnings = load_settings()
    for w in warnings:
        print(f"seesay: {w}", file=sys.stderr)
    return settings


def _speaker(args: argparse.Namespace, settings: Settings, status):
    from .speech import Speaker, Voice

    voice = Voice(rate=getattr(args, "rate", None) or settings.rate, volume=settings.volume, voice=settings.voice)
    return Speaker(voice, on_status=status)


def _line(*parts: str) -> None:
    print("\t".join(parts), flush=True)


def run_say(args: argparse.Namespace) -> int:
    from .speech import SpeechError

    speaker = _speaker(args, _settings(), lambda m: print(f"seesay: {m}", file=sys.stderr))
    if args.volume is not None:
        speaker.voice.volume = args.volume
    if args.voice:
        speaker.voice.voice = args.voice
    try:
        if args.to:
            print(speaker.save(args.text, args.to))
            return 0
        if not speaker.available():
            return 1
        speaker.say(args.text)
        speaker.available(timeout=600)  # queued behind the utterance: returns once it has been played
        return 0 if speaker.played else 1
    except SpeechError as exc:
        print(f"seesay: {exc}", file=sys.stderr)
        return 1
    finally:
        speaker.close()


def _status(speaker_holder: list):
    def status(message: str) -> None:
        _line(time.strftime("%H:%M:%S"), "status", message)
        if speaker_holder:
            speaker_holder[0].say(message, interrupt=False)

    return status


def _describe(speaker_holder: list):
    def describe(d) -> None:
        _line(time.strftime("%H:%M:%S"), d.source, d.sentence,
              f"(confidence {d.caption.confidence:.2f}, {d.latency:.2f} s after arrival)")
        if speaker_holder:
            speaker_holder[0].say(d.sentence)

    return describe


def run_live(args: argparse.Namespace) -> int:
    from .camera import SceneChange
    from .cli import load_captioner
    from .live import LiveDescriber

    settings = _settings()
    captioner = load_captioner(args)
    if captioner is None:
        return 2
    speakers: list = []
    status = _status(speakers)
    if args.speak:
        speakers.append(_speaker(args, settings, status))
    source = args.video if args.video else (args.camera if args.camera is not None else settings.camera)
    scene = SceneChange(threshold=settings.scene_threshold, min_interval=settings.min_interval)
    live = LiveDescriber(captioner, source, on_description=_describe(speakers), on_status=status, scene=scene,
                         beam_size=args.beam or settings.beam_size, loop=args.loop).start()
    try:
        while not live.camera.ended.is_set():
            time.sleep(0.2)
        live.wait_idle()
    except KeyboardInterrupt:
        pass
    finally:
        live.stop()
        for s in speakers:
            s.close()
    return 0 if live.described else 1


def run_watch(args: argparse.Namespace) -> int:
    from .cli import load_captioner, open_store
    from .embedder import SentenceEmbedder
    from .watcher import FolderWatcher

    settings = _settings()
    folders = args.folders or settings.watch
    if not folders:
        print("seesay: name a folder to watch (or set `watch` in the settings)", file=sys.stderr)
        return 2
    missing = [f for f in folders if not Path(f).is_dir()]
    if missing:
        print(f"seesay: not a folder: {', '.join(missing)}", file=sys.stderr)
        return 2
    args.db = args.db or settings.db or None
    captioner, store = load_captioner(args), open_store(args)
    if captioner is None or store is None:
        return 2
    speakers: list = []
    status = _status(speakers)
    if args.speak:
        speakers.append(_speaker(args, settings, status))
    watcher = FolderWatcher(store, captioner, folders, on_description=_describe(speakers), on_status=status,
                            embedder=None if args.no_embeddings else SentenceEmbedder(), settle=args.settle,
                            beam_size=args.beam or settings.beam_size).start()
    _line(time.strftime("%H:%M:%S"), "status", f"watching {', '.join(map(str, folders))}; Ctrl-C to stop")
    stop = threading.Event()
    try:
        stop.wait(args.seconds or None)
    except KeyboardInterrupt:
        pass
    finally:
        watcher.stop()
        store.close()
        for s in speakers:
            s.close()
    return 0
