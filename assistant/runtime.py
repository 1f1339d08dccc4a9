"""The composition root: settings and command-line arguments become the running parts, here and only here.

A command turns its own typed arguments into overrides of the settings file (`Runtime.load(beam_size=1)`,
`dataclasses.replace` underneath: a value given wins over the file, the file over the default); every
command and the app then ask that `Runtime` for the describer, the live describer, the folder watcher, the
store, the sentence embedder, the text reader, the camera and the speaker, each built once and by the same
rules everywhere (issue 25). A part that cannot be had raises `SetupError` with one line saying what is
missing and what to do; a part that can be had only in part (no object detector) is a warning, said once
through the sink a command or the app gives `report_warnings`.
"""

from __future__ import annotations

import copy
import os
import sys
from collections.abc import Callable
from dataclasses import replace
from functools import cached_property
from pathlib import Path

from .settings import Settings, load_settings

# What the captioner is chosen by: a runtime whose settings differ in none of these describes the same way.
MODEL_FIELDS = ("model", "engine", "device", "beam_size")


class SetupError(RuntimeError):
    """A part seesay needs cannot be made; the message says what to do."""


class Runtime:
    """Builds seesay's parts from the settings (overrides applied); each part once, on first use."""

    def __init__(self, settings: Settings | None = None, *, saved: Settings | None = None,
                 warnings: list[str] | None = None, overrides: dict | None = None) -> None:
        """settings: what to run with; saved: what the settings file holds (the app's dialog edits it);
        overrides: what the command line set, kept over any later change of the saved settings."""
        if settings is None:
            settings, warnings = load_settings()
        self.settings = settings
        self.saved = saved or settings
        self.overrides = dict(overrides or {})
        self.warnings = list(warnings or [])
        self._sink: Callable[[str], None] | None = None

    @classmethod
    def load(cls, **overrides) -> Runtime:
        """The settings file with the command line's overrides (None: not given, the file decides)."""
        saved, warnings = load_settings()
        return cls.of(saved, warnings, **overrides)

    @classmethod
    def of(cls, saved: Settings, warnings: list[str] | None = None, **overrides) -> Runtime:
        """These saved settings with the command line's overrides (None: not given)."""
        given = {k: v for k, v in overrides.items() if v is not None}
        return cls(replace(saved, **given), saved=saved, warnings=warnings, overrides=given)

    def with_saved(self, saved: Settings) -> Runtime:
        """A runtime for newly saved settings, the command line's overrides still winning; the parts that do
        not depend on what changed (the text reader, the detector, the captioner when its choice is the
        same) are carried over, so nothing loads twice and no warning is said twice."""
        runtime = Runtime(replace(saved, **self.overrides), saved=saved, overrides=self.overrides)
        runtime._sink = self._sink
        same_model = runtime.describes_like(self)
        carried = ("reader", "codes", "detector", "embedder") + (("captioner", "plain_describer") if same_model else ())
        for name in carried:
            if name in self.__dict__:
                runtime.__dict__[name] = self.__dict__[name]
        return runtime

    def describes_like(self, other: Runtime) -> bool:
        """Whether both settings choose the same captioner (MODEL_FIELDS), so one describer serves both."""
        return all(getattr(self.settings, f) == getattr(other.settings, f) for f in MODEL_FIELDS)

    # --- warnings -------------------------------------------------------------------------------------

    def warn(self, message: str) -> None:
        """Say a warning through the sink, or keep it until there is one."""
        if self._sink is None:
            self.warnings.append(message)
        else:
            self._sink(message)

    def report_warnings(self, sink: Callable[[str], None] | None = None) -> None:
        """Say the warnings so far, and every later one (a part that loads without something), through sink:
        by default a line on stderr."""
        self._sink = sink or (lambda w: print(f"seesay: {w}", file=sys.stderr))
        waiting, self.warnings = self.warnings, []
        for w in waiting:
            self._sink(w)

    # --- plain values --------------------------------------------------------------------------------

    @cached_property
    def device(self) -> str:
        """cpu, or a CUDA device that exists here (SetupError otherwise)."""
        device = self.settings.device
        if device == "cpu":
            return device
        import torch

        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        index = int(device.partition(":")[2] or 0)
        if index >= count:
            have = f"{count} CUDA device{'s' * (count != 1)}" if count else "no CUDA device"
            raise SetupError(f"--device {device}: this machine has {have}; use --device cpu")
        return device

    @property
    def beam_size(self) -> int:
        return self.settings.beam_size

    @property
    def db_path(self) -> Path:
        """The index file, absolute, so that relative names mean the same in every part."""
        from store import default_db_path

        return Path(self.settings.db or default_db_path()).expanduser().absolute()

    @property
    def camera_source(self) -> int | str | None:
        """A video file or stream, else the camera device; None for no camera."""
        if self.settings.no_camera:
            return None
        return self.settings.video or self.settings.camera

    @property
    def watch_folders(self) -> list[Path]:
        return [Path(f).expanduser() for f in self.settings.watch]

    # --- parts ---------------------------------------------------------------------------------------

    def camera(self, *, loop: bool = False):
        """The camera (a device, video file or stream) named by the settings; None for none."""
        from .camera import Camera

        return Camera.of(self.camera_source, loop=loop)

    @cached_property
    def captioner(self):
        """The captioner from --model, or the bundled one, on ONNX Runtime where it can run it (a CPU, a
        checkpoint compiled with `seesay export-onnx`, the beam size it was compiled for) and on PyTorch
        otherwise; --engine chooses."""
        engine = self.settings.engine
        if engine != "torch":
            captioner, why = self._onnx_captioner()
            if captioner is not None:
                return captioner
            if engine == "onnx":
                raise SetupError(f"the ONNX Runtime engine cannot describe here: {why}")
        from model import Captioner, CheckpointError, MissingWeightsError, NoModelError
        from model.describing.calibration import spoken_decoding

        path = self.settings.model
        try:
            repeat = spoken_decoding()[1]  # the search the describer's thresholds were calibrated on
            if path:
                return Captioner.from_checkpoint(path, self.device, no_repeat_ngram=repeat)
            return Captioner.default(self.device, no_repeat_ngram=repeat)
        except (NoModelError, CheckpointError, MissingWeightsError) as exc:
            raise SetupError(str(exc)) from None

    @property
    def checkpoint(self) -> Path:
        """The captioner's checkpoint: --model, or the bundled one; its ONNX Runtime graphs lie beside it."""
        from model.captioner.onnx_engine import DEFAULT_PREFIX

        return Path(self.settings.model or f"{DEFAULT_PREFIX}.pt")

    def _onnx_captioner(self):
        """(the ONNX Runtime captioner, None), or (None, why it cannot be used here)."""
        from model.captioner.caption import NoModelError
        from model.captioner.onnx_engine import OnnxCaptioner, compiled_checkpoint_matches
        from model.describing.calibration import spoken_decoding

        if self.device != "cpu":
            return None, f"it runs on the CPU, not {self.device}"
        checkpoint = self.checkpoint
        try:
            # the graphs export-onnx wrote beside it
            captioner = OnnxCaptioner(checkpoint.with_suffix(""), threads=self.threads_beside_detector)
        except (NoModelError, ImportError) as exc:
            return None, str(exc)
        if captioner.beam_size != self.beam_size:
            return None, f"it was compiled for beam {captioner.beam_size}, not {self.beam_size}"
        calibrated = spoken_decoding()[1]
        if captioner.no_repeat_ngram != calibrated:
            return None, (f"it was compiled with no_repeat_ngram {captioner.no_repeat_ngram}, the describer is "
                          f"calibrated for {calibrated} (run 'seesay export-onnx' again)")
        if not compiled_checkpoint_matches(captioner, checkpoint):
            return None, f"{checkpoint} has changed since it was compiled (run 'seesay export-onnx' again)"
        return captioner, ""

    def _plain(self, reading: bool):
        """The describer without a text reader, made once; the detector (and, where the first describer asked
        for reads, the text reader) load beside the captioner."""
        from model.captioner.onnx_engine import OnnxCaptioner
        from model.describing.describer import Describer

        if "plain_describer" not in self.__dict__:
            if "captioner" not in self.__dict__:
                self._load_beside_captioner(self.reader if reading else None)
            self.__dict__["plain_describer"] = Describer.for_captioner(
                self.captioner, all_evidence=self.settings.all_evidence, codes=self.codes, detector=self.detector,
                detect_beside=self.threads_beside_detector is not None and isinstance(self.captioner, OnnxCaptioner))
        return self.__dict__["plain_describer"]

    def describer_reading(self, reading: bool):
        """The one describer (caption, recognition, objects, people, codes), reading text or not."""
        if not reading:
            return self._plain(reading)
        described = copy.copy(self._plain(reading))  # the same captioner and detector; only the reader differs
        described.reader = self.reader
        return described

    @cached_property
    def describer(self):
        """The describer of photo files (caption, index, watch, the app's folders): reads text where
        read_text is set."""
        return self.describer_reading(self.settings.read_text)

    @cached_property
    def frame_describer(self):
        """The describer of camera frames: reads text where live_text is set (reading costs time)."""
        return self.describer_reading(self.settings.live_text)

    @cached_property
    def detector(self):
        """The bundled object detector (ONNX Runtime), or None, said once: then recognition and the people
        model alone say what is there."""
        from model.describing.detection import ObjectDetector

        try:
            return ObjectDetector.default(threads=self.threads_beside_detector)
        except (FileNotFoundError, ImportError) as exc:
            self.warn(f"describing without the object detector: {exc}")
            return None

    @cached_property
    def threads_beside_detector(self) -> int | None:
        """The threads each of the ONNX Runtime captioner and the object detector gets: they describe side by
        side (Describer detect_beside), half the cores this process may use each. None (each all of them,
        one after the other) where there is no detector or the captioner will not be the ONNX Runtime one: the
        PyTorch engine keeps every core, and the detector beside it on half was 12% slower than inline.
        Decided before either loads (they load at once), from the settings and the files."""
        from model.captioner.onnx_engine import onnx_engine_available
        from model.describing.detection import ObjectDetector

        if (self.settings.engine == "torch" or self.settings.device != "cpu"
                or not onnx_engine_available(self.checkpoint.with_suffix(""))
                or not ObjectDetector.default_path().is_file()):
            return None
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 2
        return max(1, cores // 2)

    def _load_beside_captioner(self, reader) -> None:
        """Load the text reader (if reading) and the object detector while the captioner loads on another
        thread. ONNX Runtime builds its sessions without holding Python's lock, and rapidocr spends most of its
        load parsing its model table in Python, so on 2 cores they overlap: about 0.4 s of a `seesay caption`
        cold start (issue 15)."""
        from concurrent.futures import ThreadPoolExecutor

        from model.describing.text_reader import TextReaderUnavailable

        with ThreadPoolExecutor(1, thread_name_prefix="seesay-load") as pool:
            loading = pool.submit(lambda: self.captioner)
            if reader is not None:
                try:
                    reader.load()
                except TextReaderUnavailable:  # said where the text is first read, as without this
                    pass
            _ = self.detector
            loading.result()  # the captioner's own error, if any, is raised here

    @cached_property
    def reader(self):
        """The text reader (OCR); its models load on the first photo read."""
        from model.describing.text_reader import TextReader

        return TextReader()

    @cached_property
    def codes(self):
        """The code reader (QR codes, barcodes): always on, since a frame with no code costs a few ms."""
        from model.describing.codes import CodeReader

        return CodeReader()

    @cached_property
    def embedder(self):
        """Sentence embeddings for semantic search; loaded on first use."""
        from model.sentence_embedder import SentenceEmbedder

        return SentenceEmbedder(self.device)

    def store(self, *, writable: bool = True, create: bool = True):
        """The photo index at db_path; a new one only where create is set."""
        from store import Store, StoreError

        try:
            return Store(self.db_path, writable=writable, create=create)
        except StoreError as exc:
            raise SetupError(str(exc)) from None

    def speaker(self, on_status: Callable[[str], None] | None = None):
        """The speaker with the voice from the settings (rate, volume, voice, speech on or off)."""
        from .speech import Speaker, Voice

        s = self.settings
        return Speaker(Voice(rate=s.rate, volume=s.volume, voice=s.voice, muted=not s.speech), on_status=on_status)

    def live_describer(self, camera, *, on_description, on_status=None):
        """Live description of camera (a FrameSource) with the settings' scene test, pace and beam."""
        from .camera import SceneChange
        from .live import LiveDescriber

        s = self.settings
        return LiveDescriber(camera, on_description=on_description, on_status=on_status, beam_size=s.beam_size,
                             scene=SceneChange(s.scene_threshold, min_interval=s.min_interval),
                             every=s.describe_every)

    def folder_watcher(self, store, folders=None, *, on_description=None, on_status=None, settle: float = 1.0,
                       describer=None):
        """The folder watcher: the photo describer (or the one given, already loaded), the sentence embedder
        unless embeddings are off, the settings' beam."""
        from .watcher import FolderWatcher

        return FolderWatcher(store, describer or self.describer, self.watch_folders if folders is None else folders,
                             on_description=on_description, on_status=on_status, embedder=self.index_embedder,
                             settle=settle, beam_size=self.beam_size)

    def index(self, store, folders, **options):
        """Describe the photos in folders into store, as `seesay index` does (options: index_folders')."""
        from .indexer import index_folders

        return index_folders(store, self.describer, folders, embedder=self.index_embedder,
                             beam_size=self.beam_size, **options)

    @property
    def index_embedder(self):
        """The sentence embedder for what is indexed, or None where embeddings are off."""
        return self.embedder if self.settings.embeddings else None
