"""Calibrating what the describer may say: recognition, people and caption-word thresholds (issue 16).

    python -m training.calibrate_recognition [--data ../shared/data] [--target 0.9]

Builds a labelled dev set from the data we have: the Flickr8k val split (1,000 photos) and the COCO-mini
train split (80 photos), five reference captions each. A photo is labelled as showing a concept when one
of its references names it (the describer's own words for it: model/data/imagenet_words.json and
object_words.json). Never calibrate on COCO-mini val or Flickr8k test: they are for reporting.

Every threshold is the lowest value at which the evidence above it is right at least `target` of the time
on *each* dev source (so a threshold that holds on Flickr8k but not on everyday COCO photos is raised to
the COCO one):
- recognition `say`: the summed probability of an ImageNet group, over (photo, group) pairs; per group
  where the dev set has enough of that group, else one global value;
- recognition `support`: the same, but only where a caption names the group (caption and recognition agree);
- caption `word_support`: the captioner's probability of an object word it wrote;
- caption `detail_support`: its probability of a detail (what people do, where, colours, counts), right
  when a reference has a word of the same stem; below it the describer trims the caption
  (model/describing/phrasing.py);
- people: a logistic model over the HOG and face detectors, the caption's people-word probability,
  recognised clothing and the person probe on the encoder's features (training/person_probe.py, fitted
  first, on Flickr8k train; where it also learnt from COCO-mini train photos, the calibration reads their
  out-of-fold logits from the probe file, so no threshold rests on a photo the probe learnt from), fitted on
  the dev set, keeping only the detectors that raise its dev ROC AUC (the describer runs no other); then its
  `say` and `support` probabilities as above.
Then the target itself is chosen: the one giving the most informative spoken descriptions on the dev set
whose hallucination rate (training/hallucination.py) stays within `--max-hallucination`.
And when a picture has nothing to see at all (`image.blank_spread`): half the lowest grey-level spread of
any dev photo; below it the describer says it is too dark, or blank, and weighs no evidence.
The result goes to model/data/calibration.json with the numbers behind it.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import pickle
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import combinations
from pathlib import Path

import numpy as np
import torch

from model import Caption, Captioner, load_image
from model.describing.calibration import CALIBRATION_FILE, Calibration, RecognitionCalibration
from model.describing.concepts import PERSON, Concepts, person_word_probability
from model.describing.describer import Describer
from model.describing.people import PEOPLE_FEATURES, PeopleDetector, PeopleEvidence, feature_matrix, people_features
from model.describing.recognition import PROBE_FILE, Recognizer
from model.images import tone

from .data import ImageRecord, data_root, load_records, select_split
from .hallucination import founded_details, hallucination_scores
from .logistic import auc, fit_logistic

MIN_PAIRS = 12  # dev pairs above the floor a group needs for a threshold of its own
DETECTORS = ("hog", "faces")  # people features that cost an OpenCV detector pass per photo
AUC_TOLERANCE = 0.005  # a detector stays in the people model only if leaving it out costs more dev AUC
FLOOR = 0.05  # group probabilities below this are not candidates for being said


@dataclass(frozen=True)
class DevPhoto:
    """One photo's raw evidence, computed once, and its references."""

    image_id: int
    source: str
    references: tuple[str, ...]
    candidates: tuple[Caption, ...]  # n-best, best first
    group_probs: np.ndarray  # (G,)
    people: PeopleEvidence


def dev_sources(data: Path) -> dict[str, list[ImageRecord]]:
    """The calibration photos: Flickr8k val and COCO-mini train."""
    flickr = data / "flickr8k"
    coco = data / "coco-mini"
    return {
        "flickr8k-val": select_split(load_records(flickr / "captions_flickr8k.json", flickr / "images"), "val"),
        "coco-mini-train": load_records(coco / "annotations" / "captions_train2017.json", coco / "train2017"),
    }


def collect(
    captioner: Captioner, recognizer: Recognizer, detector: PeopleDetector, records: Sequence[ImageRecord],
    source: str, *, beam_size: int, no_repeat_ngram: int, batch_size: int = 16,
    held_out_probe: Mapping[str, float] | None = None,
) -> list[DevPhoto]:
    """Each photo's n-best captions, group probabilities and people evidence (photos decoded once).

    held_out_probe: person-probe logits by image id for photos the probe was trained on, each from a probe
    fitted without it (training/person_probe.py); they replace the probe's own logit for those photos.
    """
    held_out_probe = held_out_probe or {}
    out = []
    for lo in range(0, len(records), batch_size):
        chunk = records[lo : lo + batch_size]
        pictures = [load_image(r.path) for r in chunk]
        features = captioner.encode(pictures)  # (B, P, E)
        groups = recognizer.group_probabilities(features.logits)  # (B, G)
        probes = recognizer.person_logits(features.pooled)  # (B,) or None
        probes = [0.0] * len(chunk) if probes is None else probes.tolist()
        nbest = captioner.n_best(features, beam_size, no_repeat_ngram=no_repeat_ngram)
        for r, pic, g, cands, probe in zip(chunk, pictures, groups, nbest, probes):
            probe = held_out_probe.get(str(r.image_id), probe)
            evidence = replace(detector.detect(pic), probe=probe)
            out.append(DevPhoto(r.image_id, source, r.captions, tuple(cands), g, evidence))
    return out


def concept_labels(photo: DevPhoto, concepts: Concepts) -> set[str]:
    """The describer's concepts that some reference of the photo names."""
    return set().union(*(concepts.lexicon.find(r) for r in photo.references))


def lowest_precise_threshold(scores: np.ndarray, labels: np.ndarray, target: float, min_count: int = 5) -> float:
    """The lowest score s such that the items scoring >= s are right >= target of the time (and number at
    least min_count); 1.01 (never) when no such score exists."""
    if len(scores) == 0:
        return 1.01
    order = np.argsort(-scores, kind="stable")
    s, y = scores[order], labels[order].astype(float)
    precision = np.cumsum(y) / np.arange(1, len(y) + 1)
    ok = (precision >= target) & (np.arange(1, len(y) + 1) >= min_count)
    # only cut between distinct scores
    last_of_value = np.r_[s[1:] != s[:-1], True]
    ok &= last_of_value
    if not ok.any():
        return 1.01
    return float(s[np.flatnonzero(ok)[-1]])


def robust_threshold(per_source: dict[str, tuple[np.ndarray, np.ndarray]], target: float, min_count: int = 5):
    """The strictest of the sources' thresholds (a source too small to say anything is skipped)."""
    found = {}
    for name, (s, y) in per_source.items():
        if len(s) >= min_count:
            found[name] = lowest_precise_threshold(s, y, target, min_count)
    return (max(found.values()) if found else 1.01), found


def calibrate(photos: Sequence[DevPhoto], recognizer: Recognizer, concepts: Concepts, target: float,
              feature_names: Sequence[str] = PEOPLE_FEATURES) -> tuple[Calibration, dict]:
    """Thresholds for one precision target; also the numbers behind them."""
    labels = [concept_labels(p, concepts) for p in photos]
    rec = _recognition_thresholds(photos, labels, recognizer, concepts, target)
    people, people_numbers = _people_thresholds(photos, labels, recognizer, concepts, target, feature_names)
    detail, detail_found = _detail_threshold(photos, concepts, target)
    cal = Calibration.from_json({
        "recognition": {"say": round(rec["say"], 4), "support": round(rec["support"], 4),
                        "say_by_group": rec["say_by_group"]},
        "people": people, "caption": {"word_support": round(rec["word_support"], 4), "detail_support": round(detail, 4)},
    })
    numbers = {
        "recognition_say_by_source": rec["say_found"], "recognition_support_by_source": rec["support_found"],
        "caption_word_support_by_source": rec["word_found"], "caption_detail_support_by_source": detail_found,
        **people_numbers,
    }
    return cal, numbers


def _recognition_thresholds(photos: Sequence[DevPhoto], labels: list, recognizer: Recognizer, concepts: Concepts,
                            target: float) -> dict:
    """When a recognition is said alone, when it backs a caption, per group where the dev data allow."""
    sources = sorted({p.source for p in photos})
    groups = recognizer.groups
    speakable = np.array([g.kind not in ("clothing", "person") for g in groups])
    names = [g.name for g in groups]

    # recognition say: (photo, group) pairs above the floor
    pairs = {s: ([], [], []) for s in sources}  # source -> (scores, labels, group index)
    for p, lab in zip(photos, labels):
        for j in np.flatnonzero((p.group_probs >= FLOOR) & speakable):
            pairs[p.source][0].append(p.group_probs[j])
            pairs[p.source][1].append(names[j] in lab)
            pairs[p.source][2].append(j)
    arr = {s: (np.array(v[0]), np.array(v[1], bool), np.array(v[2], int)) for s, v in pairs.items()}
    say, say_found = robust_threshold({s: (a[0], a[1]) for s, a in arr.items()}, target)
    # recognition support first: per-group `say` values never go below it (a few dev pairs can make a
    # group's own threshold fall to the floor by chance)
    sup = {s: ([], []) for s in sources}
    words = {s: ([], []) for s in sources}
    for p, lab in zip(photos, labels):
        best = p.candidates[0]
        for m in concepts.lexicon.mentions(best.text):
            probs = best.word_probs[m.start : m.end]
            if probs:
                words[p.source][0].append(min(probs))
                words[p.source][1].append(m.concept in lab)
            j = concepts.group.get(m.concept)
            if j is not None and m.concept != PERSON:
                sup[p.source][0].append(p.group_probs[j])
                sup[p.source][1].append(m.concept in lab)
    to_np = lambda d: {s: (np.array(v[0], float), np.array(v[1], bool)) for s, v in d.items()}  # noqa: E731
    support, support_found = robust_threshold(to_np(sup), target)
    support = min(support, say)  # agreeing with a caption never needs more than being said alone
    word_support, word_found = robust_threshold(to_np(words), target)

    say_by_group = {}
    for j, name in enumerate(names):
        per = {s: (a[0][a[2] == j], a[1][a[2] == j]) for s, a in arr.items()}
        if sum(len(v[0]) for v in per.values()) >= MIN_PAIRS:
            pooled = (np.concatenate([v[0] for v in per.values()]), np.concatenate([v[1] for v in per.values()]))
            t = max(lowest_precise_threshold(*pooled, target, min_count=5), support)
            if abs(t - say) > 1e-9:
                say_by_group[name] = round(t, 4)
    return {"say": say, "support": support, "say_by_group": say_by_group, "word_support": word_support,
            "say_found": say_found, "support_found": support_found, "word_found": word_found}


def _detail_threshold(photos: Sequence[DevPhoto], concepts: Concepts, target: float) -> tuple[float, dict]:
    """When the captioner's probability of a detail (model/describing/phrasing.py: a word that is neither an object nor
    a function word) is enough to say it: details of the best caption, right when a reference has the
    word's stem (training/hallucination.py; synonyms count as wrong, so this errs towards saying less)."""
    per = {s: ([], []) for s in sorted({p.source for p in photos})}
    for p in photos:
        best = p.candidates[0]
        if len(best.word_probs) != len(best.words):
            continue
        for i, founded in founded_details(best.text, p.references, concepts.lexicon):
            per[p.source][0].append(best.word_probs[i])
            per[p.source][1].append(founded)
    return robust_threshold({s: (np.array(v[0], float), np.array(v[1], bool)) for s, v in per.items()}, target)


def _people_thresholds(photos: Sequence[DevPhoto], labels: list, recognizer: Recognizer, concepts: Concepts,
                       target: float, feature_names: Sequence[str]) -> tuple[dict, dict]:
    """The logistic people model, its say and support thresholds; and how well each signal separates.

    The detectors (DETECTORS) cost a pass over every photo, so the model leaves out those that do not earn
    it: the fewest detectors whose model's dev ROC AUC is within AUC_TOLERANCE of the model with all of
    them, on each source. The describer runs only the detectors the model weighs.
    """
    sources = sorted({p.source for p in photos})
    clothing = np.array([g.kind == "clothing" for g in recognizer.groups])
    rows = [people_features(p.people, person_word_probability(p.candidates, concepts),
                            float(p.group_probs[clothing].sum())) for p in photos]
    y = np.array([PERSON in lab for lab in labels])
    src = np.array([p.source for p in photos])
    balance = np.array([1.0 / (src == s).sum() for s in src])  # each dev source weighs the same

    def fit(names: Sequence[str]) -> tuple[np.ndarray, float, np.ndarray, dict[str, float]]:
        x = feature_matrix(rows, names)
        w, b = fit_logistic(x, y.astype(float), balance)
        prob = 1 / (1 + np.exp(-(x @ w + b)))
        return w, b, prob, {s: auc(prob[src == s], y[src == s]) for s in sources}

    full = fit(feature_names)
    tried = {",".join(feature_names): full[3]}
    present = [d for d in DETECTORS if d in feature_names]

    def fewest_detectors() -> tuple[list[str], tuple]:
        for k in range(len(present) + 1):
            for keep in combinations(present, k):
                names = [n for n in feature_names if n not in present or n in keep]
                fitted = fit(names)
                tried[",".join(names)] = fitted[3]
                if all(fitted[3][s] >= full[3][s] - AUC_TOLERANCE for s in sources):
                    return names, fitted
        return list(feature_names), full

    chosen, (w, b, prob, _) = fewest_detectors()
    x = feature_matrix(rows, feature_names)
    model = {"weights": {n: round(float(v), 5) for n, v in zip(chosen, w)}, "bias": round(b, 5)}
    people_say, people_say_found = robust_threshold({s: (prob[src == s], y[src == s]) for s in sources}, target)
    names_person = np.array([PERSON in concepts.lexicon.find(p.candidates[0].text) for p in photos])
    people_support, people_support_found = robust_threshold(
        {s: (prob[(src == s) & names_person], y[(src == s) & names_person]) for s in sources}, target)
    people_support = min(people_support, people_say)
    people = {"model": model, "say": round(people_say, 4), "support": round(people_support, 4)}
    numbers = {
        "people_say_by_source": people_say_found, "people_support_by_source": people_support_found,
        "people_auc": {s: {n: auc(x[src == s, i], y[src == s]) for i, n in enumerate(feature_names)}
                       | {"model": auc(prob[src == s], y[src == s])} for s in sources},
        "people_model_auc_by_features": tried,
        "people_features": chosen,
        "people_base_rate": {s: float(y[src == s].mean()) for s in sources},
    }
    return people, numbers


def blank_spread(records: Sequence[ImageRecord]) -> dict:
    """When a picture shows nothing to describe: half the lowest grey-level spread (images.tone) of any dev
    photo. Every real photo of the dev set is then above it by a factor of two; a covered lens, a dark room
    or a blank wall, whose only spread is sensor noise, is below."""
    spreads = [tone(load_image(r.path))[1] for r in records]
    return {"blank_spread": round(min(spreads) / 2, 3), "lowest_dev_spread": round(min(spreads), 3),
            "rule": "half the lowest grey-level spread (std of a 32 x 32 grey thumbnail, 0-255) of the dev photos"}


def spoken(describer: Describer, photos: Sequence[DevPhoto]) -> list[str]:
    """The describer's sentences for cached evidence."""
    return [describer.compose(p.candidates, p.group_probs, p.people).sentence for p in photos]


def score(describer: Describer, photos: Sequence[DevPhoto]) -> dict[str, float]:
    """Hallucination scores of the spoken descriptions of photos."""
    return hallucination_scores(spoken(describer, photos), [p.references for p in photos])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m training.calibrate_recognition")
    p.add_argument("--data", default=str(data_root()), help="the shared data folder (default: %(default)s)")
    p.add_argument("--model", help="checkpoint (default: the bundled model)")
    p.add_argument("--beam", type=int, default=3)
    p.add_argument("--no-repeat-ngram", type=int, default=2)
    p.add_argument("--targets", default="0.6,0.65,0.7,0.75,0.8,0.85,0.9", help="precision targets to try")
    p.add_argument("--max-hallucination", type=float, default=0.2,
                   help="highest dev hallucination rate a chosen target may give (issue 16 asks <= 0.2)")
    p.add_argument("--cache", default="cache/truth_dev.pkl", help="where the dev evidence is kept between runs")
    p.add_argument("--out", default=str(CALIBRATION_FILE))
    args = p.parse_args(argv)
    torch.set_num_threads(os.cpu_count() or 1)
    captioner = Captioner.from_checkpoint(args.model) if args.model else Captioner.default()
    placeholder = Calibration(RecognitionCalibration())  # nothing said yet
    recognizer = Recognizer.for_captioner(captioner, calibration=placeholder)
    if recognizer is None:
        raise SystemExit("error: this checkpoint's encoder has no ImageNet head to calibrate")
    photos = _dev_photos(args, captioner, recognizer)
    data = _choose(args, captioner, recognizer, photos)
    data["image"] = blank_spread([r for records in dev_sources(Path(args.data)).values() for r in records])
    Path(args.out).write_text(json.dumps(data, indent=1, default=float) + "\n")
    print(f"chose target {data['provenance']['target']}; wrote {args.out}")
    return 0


def _dev_photos(args: argparse.Namespace, captioner: Captioner, recognizer: Recognizer) -> list[DevPhoto]:
    """The dev photos' evidence: read from the cache when it was collected with the same settings."""
    cache = Path(args.cache)
    probe = hashlib.sha1(PROBE_FILE.read_bytes()).hexdigest()[:12] if PROBE_FILE.is_file() else None
    key = (args.model or "default", args.beam, args.no_repeat_ngram, probe)
    photos = None
    if cache.is_file():
        saved = pickle.loads(cache.read_bytes())  # our own cache, written below
        photos = saved["photos"] if saved.get("key") == key else None
    if photos is None:
        detector = PeopleDetector()
        held_out = json.loads(PROBE_FILE.read_text()).get("out_of_fold", {}) if PROBE_FILE.is_file() else {}
        photos = []
        for source, records in dev_sources(Path(args.data)).items():
            photos += collect(captioner, recognizer, detector, records, source, beam_size=args.beam,
                              no_repeat_ngram=args.no_repeat_ngram, held_out_probe=held_out.get(source))
            print(f"collected {source}: {len(records)} photos")
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_bytes(pickle.dumps({"key": key, "photos": photos}))
    return photos


def _choose(args: argparse.Namespace, captioner: Captioner, recognizer: Recognizer, photos: list[DevPhoto]) -> dict:
    """Calibrate at every target; keep the most informative within the hallucination bound, with provenance."""
    concepts = Concepts.load()
    sources = sorted({ph.source for ph in photos})
    tried = {}
    for target in (float(t) for t in args.targets.split(",")):
        cal, numbers = calibrate(photos, recognizer, concepts, target)
        describer = Describer(captioner, recognizer, calibration=cal)
        tried[target] = (cal, numbers, {s: score(describer, [ph for ph in photos if ph.source == s]) for s in sources})
        print(f"target {target}: " + "; ".join(
            f"{s} hallucinated {v['hallucinated']:.3f} informative {v['informative']:.3f}"
            for s, v in tried[target][2].items()))
    within = [t for t, v in tried.items() if all(x["hallucinated"] <= args.max_hallucination for x in v[2].values())]
    best = max(within, key=lambda t: min(x["informative"] for x in tried[t][2].values())) if within else max(tried)
    cal, numbers, dev_scores = tried[best]
    data = {
        "recognition": cal.source["recognition"],
        "people": cal.source["people"],
        "caption": {**cal.source["caption"], "no_repeat_ngram": args.no_repeat_ngram, "beam_size": args.beam},
        "provenance": {
            "written_by": "python -m training.calibrate_recognition",
            "date": datetime.date.today().isoformat(),
            "model": args.model or "model/weights/flickr8k-default.pt",
            "dev_set": {s: sum(ph.source == s for ph in photos) for s in sources},
            "rule": "lowest threshold whose evidence is right >= target on each dev source; target chosen as "
                    f"the most informative with dev hallucination <= {args.max_hallucination}",
            "target": best,
            "numbers": numbers,
            "dev_scores_by_target": {str(t): v[2] for t, v in tried.items()},
        },
    }
    return data


if __name__ == "__main__":
    raise SystemExit(main())
