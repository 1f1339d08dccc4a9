"""One composition root: every command takes the same parts from the same settings and arguments."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

from assistant.runtime import Runtime
from assistant.settings import load_settings


def _seesay(*args: str, env: dict, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "assistant", *args], capture_output=True, text=True, env=env,
                          timeout=timeout)


def test_every_command_uses_the_index_named_in_the_settings_file(tmp_path, flickr_records):
    """`db` in settings.toml used to reach the app and watch, but not index, search or export."""
    folder = tmp_path / "photos"
    folder.mkdir()
    for r in [r for r in flickr_records if r.split == "test"][:2]:
        shutil.copy(r.path, folder / r.path.name)
    db = tmp_path / "from-settings.sqlite"
    config = tmp_path / "settings.toml"
    config.write_text(f'db = "{db}"\nbeam_size = 2\n')
    env = {**os.environ, "SEESAY_CONFIG": str(config), "SEESAY_DB": str(tmp_path / "not-this-one.sqlite")}
    index = _seesay("index", str(folder), "--no-embeddings", "--quiet", env=env)
    assert index.returncode == 0, index.stderr
    assert db.is_file() and not (tmp_path / "not-this-one.sqlite").exists()
    exported = _seesay("export", env=env)
    assert exported.returncode == 0, exported.stderr
    rows = json.loads(exported.stdout)
    assert sorted(r["path"] for r in rows) == sorted(str(p) for p in folder.iterdir())
    word = rows[0]["caption"].split()[-1]
    found = _seesay("search", word, "--mode", "text", "--json", env=env)
    hits = [json.loads(line)["path"] for line in found.stdout.splitlines()]
    assert found.returncode == 0 and rows[0]["path"] in hits, found.stderr
    watch = _seesay("watch", str(folder), "--seconds", "1", "--no-embeddings", env=env)
    assert watch.returncode == 0, watch.stderr
    assert not (tmp_path / "not-this-one.sqlite").exists()
    elsewhere = _seesay("export", "--db", str(tmp_path / "missing.sqlite"), env=env)  # an argument wins
    assert elsewhere.returncode == 2 and "no photo index" in elsewhere.stderr


def test_settings_and_arguments_resolve_the_same_parts_for_every_command(tmp_path, monkeypatch):
    config = tmp_path / "settings.toml"
    config.write_text('camera = 3\nvoice = "en-gb"\nrate = 150\ndb = "~/photos.sqlite"\nbeam_size = 4\n')
    monkeypatch.setenv("SEESAY_CONFIG", str(config))
    settings, warnings = load_settings()
    assert not warnings
    plain = Runtime(settings)
    assert plain.camera_source == 3 and plain.beam_size == 4
    assert str(plain.db_path) == os.path.expanduser("~/photos.sqlite")
    voice = plain.speaker().voice
    assert (voice.voice, voice.rate) == ("en-gb", 150)
    given = Runtime.load(camera=1, db=str(tmp_path / "x.sqlite"), voice="en-us", rate=200, beam_size=1)
    assert given.camera_source == 1 and given.beam_size == 1 and given.db_path == tmp_path / "x.sqlite"
    voice = given.speaker().voice
    assert (voice.voice, voice.rate) == ("en-us", 200)
    assert Runtime.load(video="street.avi").camera_source == "street.avi"
    assert Runtime.load(no_camera=True).camera_source is None


def test_settings_out_of_range_fall_back_with_a_warning_naming_the_file(tmp_path):
    config = tmp_path / "settings.toml"
    config.write_text("beam_size = -4\nvolume = 55\nrate = -100\nscene_threshold = 1e999\nmin_interval = -1\n")
    settings, warnings = load_settings(config)
    assert (settings.beam_size, settings.volume, settings.rate, settings.min_interval) == (3, 1.0, 175, 2.0)
    assert settings.scene_threshold == 18.0
    assert len(warnings) == 5 and all(str(config) in w for w in warnings)


def test_the_coco_export_loads_with_pycocotools(tmp_path):
    from pycocotools.coco import COCO

    from assistant.commands.export import coco_results
    from store import Entry, FileInfo, Store

    with Store(tmp_path / "i.sqlite") as store:
        model = store.model_id("flickr8k-default", "1" * 64)
        store.add(model, [Entry(FileInfo(f"/p/{i}.jpg", 1, 1.0), f"{i:064x}", 224, 224, f"a dog number {i}", 0.5)
                          for i in range(3)])
        rows = store.export_rows()
    results = coco_results(rows)
    truth = COCO()
    truth.dataset = {"images": [{"id": r["image_id"]} for r in results], "annotations": [], "type": "captions"}
    truth.createIndex()
    loaded = truth.loadRes(results)
    assert sorted(loaded.getImgIds()) == [1, 2, 3]
    assert {a["caption"] for a in loaded.dataset["annotations"]} == {"a dog number 0", "a dog number 1", "a dog number 2"}
    assert {r["model"] for r in results} == {"flickr8k-default"}  # the model's name, not a file's


def test_seesay_index_reads_text_so_a_word_only_written_in_a_photo_finds_it(tmp_path, flickr_records):
    from PIL import Image, ImageDraw, ImageFont

    folder = tmp_path / "photos"
    folder.mkdir()
    shutil.copy(next(r.path for r in flickr_records if r.split == "test"), folder / "beach.jpg")
    page = Image.new("RGB", (800, 400), "white")
    font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf", 56)
    ImageDraw.Draw(page).text((40, 150), "INVOICE 4711", font=font, fill="black")
    page.save(folder / "scan.png")
    env = {**os.environ, "SEESAY_DB": str(tmp_path / "index.sqlite")}
    index = _seesay("index", str(folder), "--no-embeddings", "--quiet", env=env)
    assert index.returncode == 0, index.stderr
    found = _seesay("search", "invoice", "--mode", "text", "--json", env=env)
    assert [json.loads(line)["path"] for line in found.stdout.splitlines()] == [str(folder / "scan.png")]
    assert "INVOICE" in json.loads(found.stdout.splitlines()[0])["text"]


def test_captioning_a_photo_loads_only_what_describing_it_needs(flickr_records):
    """Cold start (issue 15): no PyTorch (the captioner runs on ONNX Runtime), no index (SQLAlchemy) for photo
    files, no OCR engine without reading."""
    photo = next(r.path for r in flickr_records if r.split == "test")
    heavy = "{'sqlalchemy', 'rapidocr', 'onnxruntime', 'sentence_transformers', 'torch', 'cv2'}"
    probe = f"import sys; from assistant.cli import main; main(sys.argv[1:]); print(sorted({heavy} & set(sys.modules)))"
    for flags, loaded in ((["--no-text"], "['onnxruntime']"), ([], "['cv2', 'onnxruntime', 'rapidocr']")):
        run = subprocess.run([sys.executable, "-c", probe, "caption", *flags, str(photo)], capture_output=True,
                             text=True, timeout=180)
        assert run.returncode == 0 and run.stderr == "", run.stderr
        said, modules = run.stdout.strip().splitlines()
        assert said.startswith(f"{photo}\t") and modules == loaded


def test_a_missing_detector_graph_is_said_once_by_the_commands_and_the_app(tmp_path, monkeypatch, capsys,
                                                                         flickr_records):
    """The warning came while the describer was built, after the commands had printed theirs: never said."""
    from assistant.cli import main
    from assistant.settings import Settings
    from model.describing.detection import ObjectDetector

    monkeypatch.setenv("SEESAY_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setattr(ObjectDetector, "graph", "missing-nanodet.onnx")
    monkeypatch.setattr(ObjectDetector, "unsigned_graph", "missing-nanodet-u8u8.onnx")  # its twin, on x86 without VNNI
    photo = next(r.path for r in flickr_records if r.split == "test")
    assert main(["caption", "--no-text", str(photo)]) == 0
    out = capsys.readouterr()
    assert out.err.count("describing without the object detector") == 1, out.err
    assert out.out.startswith(f"{photo}\t")
    heard: list[str] = []
    runtime = Runtime(Settings(read_text=False))
    runtime.report_warnings(heard.append)
    _ = runtime.describer
    _ = runtime.with_saved(Settings(read_text=False, rate=300)).describer  # the app's dialog saved: not again
    assert [w for w in heard if "object detector" in w] == [heard[0]] and len(heard) == 1


def test_the_detector_runs_beside_the_onnx_captioner_only_with_half_the_cores_each():
    """Side by side only where each has its share of the cores: the ONNX Runtime captioner on the CPU. The
    PyTorch engine keeps every core and the detector runs after it (beside it on half it was slower)."""
    from assistant.settings import Settings
    from model.captioner.onnx_engine import OnnxCaptioner

    onnx = Runtime.of(Settings())
    cores = len(os.sched_getaffinity(0))
    assert onnx.threads_beside_detector == max(1, cores // 2)
    described = onnx.describer_reading(False)
    assert isinstance(described.captioner, OnnxCaptioner) and described._beside is not None
    assert Runtime.of(Settings(), engine="torch").threads_beside_detector is None
    assert Runtime.of(Settings(), model="/no/such/checkpoint.pt").threads_beside_detector is None  # nothing compiled
