"""The composition root: settings and command-line arguments become the running parts, here and only here.

Every command and the app ask a `Runtime` for the describer, the store, the sentence embedder, the camera
source and the speaker; each is resolved once, by the same rules everywhere (an argument wins over the
settings file, the settings file over the default). A part that cannot be had raises `SetupError` with
one line saying what is missing and what to do.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from functools import cached_property
from pathlib import Path

from .settings import Settings, load_settings


class SetupError(RuntimeError):
    """A part seesay needs cannot be made; the message says what to do."""


class Runtime:
    """Builds seesay's parts from the settings and arguments; each part once, on first use."""

    def __init__(self, args: argparse.Namespace | None = None, settings: Settings | None = None,
                 warnings: list[str] | None = None) -> None:
        self.args = args or argparse.Namespace()
        if settings is None:
            settings, warnings = load_settings()
        self.settings = settings
        self.warnings = list(warnings or [])

    def _arg(self, name: str, default=None):
        value = getattr(self.args, name, None)
        return default if value is None else value

    # --- plain values --------------------------------------------------------------------------------

    @cached_property
    def device(self) -> str:
        """cpu, or a CUDA device that exists here (SetupError otherwise)."""
        device = self._arg("device", "cpu")
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
        return self._arg("beam") or self.settings.beam_size

    @property
    def reading(self) -> bool:
        """Whether descriptions include the text read in the photo (commands set the default: on for
        caption and index, off for live description unless asked, since reading costs time)."""
        return bool(self._arg("read_text", False))

    @property
    def db_path(self) -> Path:
        """The index file, absolute, so that relative names mean the same in every part."""
        from store import default_db_path

        return Path(self._arg("db") or self.settings.db or default_db_path()).expanduser().absolute()

    @property
    def camera_source(self) -> int | str | None:
        """A video file or stream from --video, a device from --camera or the settings; None for no camera."""
        if self._arg("no_camera", False):
            return None
        if self._arg("video"):
            return self.args.video
        return self._arg("camera", self.settings.camera)

    @property
    def watch_folders(self) -> list[Path]:
        given = self._arg("watch") or self._arg("folders") or self.settings.watch
        return [Path(f).expanduser() for f in given]

    # --- parts ---------------------------------------------------------------------------------------

    def camera(self, *, loop: bool = False):
        """The camera (a device, video file or stream) named by the arguments or settings; None for none."""
        from .camera import Camera

        return Camera.of(self.camera_source, loop=loop)

    @cached_property
    def captioner(self):
        """The captioner from --model, or the bundled one, on ONNX Runtime where it can run it (a CPU, a
        checkpoint compiled with `seesay export-onnx`, the beam size it was compiled for) and on PyTorch
        otherwise; --engine chooses."""
        engine = self._arg("engine", "auto")
        if engine != "torch":
            captioner, why = self._onnx_captioner()
            if captioner is not None:
                return captioner
            if engine == "onnx":
                raise SetupError(f"the ONNX Runtime engine cannot describe here: {why}")
        from model import Captioner, CheckpointError, MissingWeightsError, NoModelError
        from model.describing.calibration import spoken_decoding

        path = self._arg("model")
        try:
            repeat = spoken_decoding()[1]  # the search the describer's thresholds were calibrated on
            if path:
                return Captioner.from_checkpoint(path, self.device, no_repeat_ngram=repeat)
            return Captioner.default(self.device, no_repeat_ngram=repeat)
        except (NoModelError, CheckpointError, MissingWeightsError) as exc:
            raise SetupError(str(exc)) from None

    def _onnx_captioner(self):
        """(the ONNX Runtime captioner, None), or (None, why it cannot be used here)."""
        from model.captioner.caption import NoModelError
        from model.captioner.onnx_engine import DEFAULT_PREFIX, OnnxCaptioner, compiled_checkpoint_matches
        from model.describing.calibration import spoken_decoding

        if self.device != "cpu":
            return None, f"it runs on the CPU, not {self.device}"
        checkpoint = Path(self._arg("model") or f"{DEFAULT_PREFIX}.pt")
        try:
            captioner = OnnxCaptioner(checkpoint.with_suffix(""))  # the graphs export-onnx wrote beside it
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

    @cached_property
    def describer(self):
        """The one describer: caption, recognition and (where wanted) reading, composed into what is said.
        With --json every piece of evidence is measured, so that each record has its person probability."""
        from model.describing.describer import Describer

        reader = self.reader if self.reading else None
        if "captioner" not in self.__dict__:
            self._load_beside_captioner(reader)
        return Describer.for_captioner(self.captioner, reader=reader, all_evidence=bool(self._arg("json", False)),
                                       codes=self.codes, detector=self.detector)

    @cached_property
    def detector(self):
        """The bundled object detector (ONNX Runtime), or None, said once: then recognition and the people
        model alone say what is there."""
        from model.describing.detection import ObjectDetector

        try:
            return ObjectDetector.default()
        except (FileNotFoundError, ImportError) as exc:
            self.warnings.append(f"describing without the object detector: {exc}")
            return None

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
        """The speaker with the voice from the settings and the --rate, --volume and --voice arguments."""
        from .speech import Speaker, Voice

        s = self.settings
        voice = Voice(rate=self._arg("rate", s.rate), volume=self._arg("volume", s.volume),
                      voice=self._arg("voice") or s.voice, muted=not s.speech)
        return Speaker(voice, on_status=on_status)

    def report_warnings(self) -> None:
        """Settings warnings, once, on stderr (the app shows them on screen instead)."""
        for w in self.warnings:
            print(f"seesay: {w}", file=sys.stderr)
        self.warnings = []
