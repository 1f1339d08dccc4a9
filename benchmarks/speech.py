"""What the speech policy costs and saves a listener (issue 28), with the real speech engine (espeak-ng).

    python benchmarks/speech.py [--runs 5] [--out benchmarks/results/speech_cpu.json]

- answer_start_s: seconds from asking (`say`, an answer) to the audio player starting, while a live line
  is playing and more arrive every 0.1 s (the answer cuts the live line; live lines wait). A stand-in
  player that takes 2 s per WAV notes when it starts (there is no sound card here).
- results_speech_s: seconds of speech (WAV length) to hear Flickr8k search results as they were said
  before ("CAPTION. 1001773457_577c3a7d70.jpg") and as `assistant.spoken.spoken_result` says them, for
  the first 10 Flickr8k test photos, their first human caption standing for the description.
- letter_speech_s: seconds of speech to hear a seven-line letter: as before (two lines and "And 5 more
  lines.") and every line now (its date, time and phone number said as such).

Each figure is the median of --runs runs with its spread (min, max).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from report import add_data_argument, save, show, spread

from assistant.reading import Document
from assistant.speech import Speaker, wav_seconds
from assistant.speech_queue import ANSWER, LIVE
from assistant.spoken import spoken_result
from model.describing.speakable import speakable
from model.describing.text_reader import TextLine, spoken_text

LETTER = ["Dear Ms Smith,", "Your appointment at the eye clinic is on", "14/03/2027 at 10:30 in room 12.",
          "Please bring your glasses and this letter.", "To change it, call 0161 496 0123.", "Yours sincerely,",
          "Eye Clinic Bookings"]
PLAYER = "import sys, time; open(sys.argv[1], 'a').write(f'{time.time()} {sys.argv[2]}\\n'); time.sleep(2)"


def answer_start(folder: Path) -> float:
    """Seconds from an answer being asked for to its playback starting, under a stream of live lines."""
    log = folder / f"starts-{time.monotonic_ns()}.log"
    s = Speaker(player=[sys.executable, "-c", PLAYER, str(log)])
    stop = threading.Event()
    try:
        s.say("People walk down a street.", kind=LIVE)
        while not log.exists():
            time.sleep(0.01)

        def flood():
            while not stop.wait(0.1):
                s.say("A person on a sidewalk.", kind=LIVE)

        threading.Thread(target=flood, daemon=True).start()
        asked = time.time()
        s.say("A black dog runs on the beach.", kind=ANSWER)
        while len(log.read_text().splitlines()) < 2:
            time.sleep(0.005)
        return float(log.read_text().splitlines()[1].split()[0]) - asked
    finally:
        stop.set()
        s.close()


def speech_seconds_of(speaker: Speaker, texts: list[str], folder: Path) -> float:
    return sum(wav_seconds(speaker.save(t, folder / f"{i}.wav")) for i, t in enumerate(texts))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_data_argument(p)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--out", default="benchmarks/results/speech_cpu.json")
    args = p.parse_args()
    flickr = json.loads((Path(args.data) / "flickr8k" / "captions_flickr8k.json").read_text())
    captions = {}
    for a in flickr["annotations"]:
        captions.setdefault(a["image_id"], a["caption"].strip().rstrip(" .").capitalize() + ".")
    names = {i["id"]: i["file_name"] for i in flickr["images"]}
    test = [i for i in flickr["images"] if i.get("split") == "test"][:10]
    hits = [type("Hit", (), {"caption": captions[i["id"]], "path": f"/photos/flickr8k/images/{names[i['id']]}"})
            for i in test]
    before = [f"{h.caption}. {Path(h.path).name}" for h in hits]
    after = [spoken_result(h) for h in hits]
    lines = [TextLine(t, 1.0, (0, 0, 1, 1)) for t in LETTER]
    doc = Document([speakable(t) for t in LETTER])
    letter_before, letter_after = [spoken_text(lines)], [doc.intro(), *doc.everything()]

    figures: dict[str, list[float]] = {k: [] for k in ("answer_start_s", "results_before_s", "results_after_s",
                                                         "letter_before_s", "letter_after_s", "synthesis_s")}
    speaker = Speaker(player=None)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for _ in range(args.runs):
            figures["answer_start_s"].append(answer_start(folder))
            start = time.perf_counter()
            figures["results_before_s"].append(speech_seconds_of(speaker, before, folder))
            figures["synthesis_s"].append(time.perf_counter() - start)
            figures["results_after_s"].append(speech_seconds_of(speaker, after, folder))
            figures["letter_before_s"].append(speech_seconds_of(speaker, letter_before, folder))
            figures["letter_after_s"].append(speech_seconds_of(speaker, letter_after, folder))
    speaker.close()
    numbers = {k: spread(v) for k, v in figures.items()}
    show("speech", ["figure", "median", "min", "max"],
         [(k, f"{statistics.median(v):.3f}", f"{min(v):.3f}", f"{max(v):.3f}") for k, v in figures.items()],
         f"results as said before: {before[0]!r}", f"results as said now: {after[0]!r}")
    save(args.out, runs=args.runs, figures=numbers, examples={"before": before[:3], "after": after[:3]})


if __name__ == "__main__":
    main()
