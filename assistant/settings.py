"""The user's settings: a TOML file in the user's config directory, editable from the app.

    ~/.config/seesay/settings.toml on Linux; $SEESAY_CONFIG names another file.

Unknown keys are kept out; wrong types and values out of range fall back to the defaults with a warning
that names the file: a hand-edited file can never stop seesay from starting. A file that cannot be read at
all is copied aside (settings.toml.bad) before anything is written over it.

`RANGES` is the one table of what each number may be: the settings file, the settings screen and the
command line (`option`, the argparse type) all check against it (issue 27).

`Settings` is frozen: a command's arguments become `dataclasses.replace(settings, ...)`, and the fields
marked `SESSION` (the engine, a video file, --json...) are never read from or written to the file.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import stat
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from platformdirs import user_config_dir

SESSION = {"session": True}  # field metadata: set by the command line for one run, never saved


@dataclass(frozen=True)
class Settings:
    """What seesay runs with: the settings file, then the command line's overrides (session fields)."""

    speech: bool = True  # speak descriptions and state changes
    rate: int = 175  # words per minute
    volume: float = 1.0  # 0..1
    voice: str = ""  # a voice id of the speech engine; empty for its default
    camera: int = 0  # device index of the default camera
    beam_size: int = 3
    scene_threshold: float = 18.0  # how different (0..255, on thumbnails) a view must be to be described
    min_interval: float = 2.0  # seconds between automatic descriptions
    describe_every: float = 60.0  # also describe every N seconds, changed or not ("Still: ..."); 0: only on changes
    watch: list[str] = field(default_factory=list)  # folders to watch
    db: str = ""  # the photo index; empty for the default
    read_text: bool = True  # read the text in photo files (caption, index, watch, the app's folders)
    live_text: bool = False  # read the text in view while describing live (the app's x; seesay live --text)
    # --- the command line only (issue 25) ---
    video: str = field(default="", metadata=SESSION)  # a video file or stream instead of the camera
    no_camera: bool = field(default=False, metadata=SESSION)
    model: str = field(default="", metadata=SESSION)  # a captioner checkpoint; empty for the bundled one
    engine: str = field(default="auto", metadata=SESSION)  # auto, onnx or torch
    device: str = field(default="cpu", metadata=SESSION)
    all_evidence: bool = field(default=False, metadata=SESSION)  # measure every piece of evidence (--json)
    embeddings: bool = field(default=True, metadata=SESSION)  # sentence embeddings for what is indexed


def saved_fields() -> list[str]:
    """The settings the file holds, in order."""
    return [f.name for f in fields(Settings) if not f.metadata.get("session")]


# The values each number may take, in the settings file and on the command line alike; outside them a
# setting falls back to its default with a warning, and an option is refused with one line.
RANGES: dict[str, tuple[float, float]] = {
    "rate": (80, 450),  # espeak-ng is unintelligible beyond these
    "volume": (0.0, 1.0),
    "camera": (0, 63),  # OpenCV's VideoCapture(-1) crashes the process; no machine has 64 cameras
    "beam_size": (1, 10),  # beam 5000 takes 3 GB, beam 100000 is killed for memory
    "scene_threshold": (0.0, 255.0),
    "min_interval": (0.0, 3600.0),
    "describe_every": (0.0, 3600.0),
    # command-line only
    "limit": (1, 10_000),  # search results
    "batch_size": (1, 256),  # photos described together
    "settle": (0.0, 3600.0),  # seconds a watched file must rest
    "seconds": (0.0, 366 * 24 * 3600.0),  # how long `watch` runs; 0 for until Ctrl-C
}


def problem(key: str, value) -> str | None:
    """Why value cannot be used for the setting key, or None when it can."""
    low, high = RANGES.get(key, (None, None))
    if isinstance(value, float) and not math.isfinite(value):
        return "must be a finite number"
    if low is not None and not (low <= value <= high):  # also refuses NaN
        return f"must be from {low:g} to {high:g}"
    if isinstance(value, str) and "\0" in value:
        return "must not hold a NUL character"
    return None


def option(key: str, kind: type = int):
    """An argparse type for a number option checked against RANGES[key], as the settings file is."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected a {'whole ' * (kind is int)}number, got {text!r}") from None
        if why := problem(key, value):
            raise argparse.ArgumentTypeError(f"{why}, got {text}")
        return value

    return parse


def settings_path() -> Path:
    return Path(os.environ.get("SEESAY_CONFIG") or Path(user_config_dir("seesay")) / "settings.toml")


def load_settings(path: str | os.PathLike | None = None) -> tuple[Settings, list[str]]:
    """Settings from the file (defaults where absent), and warnings about what could not be used."""
    path = Path(path) if path else settings_path()
    settings, warnings = Settings(), []
    try:  # a missing file (or a link to one not made yet) is no settings; a folder or FIFO is said
        if not stat.S_ISREG(path.stat().st_mode):
            return settings, [f"Settings file {path} could not be read (not a regular file); using the defaults."]
    except FileNotFoundError:
        return settings, warnings
    except OSError as exc:
        return settings, [f"Settings file {path} could not be read ({exc.strerror or exc}); using the defaults."]
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError) as exc:
        why = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        return settings, [f"Settings file {path} could not be read ({why}); using the defaults.{_keep_aside(path)}"]
    known, values = set(saved_fields()), {}
    for key, value in data.items():
        if key not in known:
            warnings.append(f"Unknown setting {key!r} ignored.")
            continue
        default = getattr(settings, key)
        if isinstance(default, bool) != isinstance(value, bool):
            ok = False
        elif isinstance(default, float) and isinstance(value, int):
            value, ok = float(value), True
        elif isinstance(default, list):
            ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        else:
            ok = isinstance(value, type(default))
        if not ok:
            warnings.append(f"Setting {key} = {value!r} in {path} has the wrong type; using {default!r}.")
        elif why := problem(key, value):
            warnings.append(f"Setting {key} = {value!r} in {path} {why}; using {default!r}.")
        else:
            values[key] = value
    return replace(settings, **values), warnings


def _keep_aside(path: Path) -> str:
    """Copy an unreadable settings file to NAME.bad, so that saving the settings cannot lose it."""
    aside = path.with_name(path.name + ".bad")
    try:
        shutil.copyfile(path, aside)
    except OSError:
        return ""
    return f" It is kept as {aside}."


def _toml_string(text: str) -> str:
    """A TOML basic string: quotes, backslashes and every control character escaped (TOML allows none raw)."""
    out = []
    for c in text:
        if c in '"\\':
            out.append("\\" + c)
        elif ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 or 0xD800 <= ord(c) < 0xE000:
            out.append(f"\\u{ord(c):04X}" if not 0xD800 <= ord(c) < 0xE000 else "\\uFFFD")
        else:
            out.append(c)
    return '"' + "".join(out) + '"'


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return _toml_string(str(value))


def _written_to(path: Path) -> Path:
    """The file saving replaces: a symbolic link's target when it is a regular file (dotfile managers link
    ~/.config files; replacing the link cut it off), else path itself (a dangling or looping link too)."""
    try:
        target = path.resolve(strict=True) if path.is_symlink() else path
        return target if stat.S_ISREG(target.stat().st_mode) else path
    except (OSError, RuntimeError):  # RuntimeError: a link loop, before Python 3.13
        return path


def save_settings(settings: Settings, path: str | os.PathLike | None = None) -> Path:
    """Write the settings atomically (a crash mid-write leaves the old file), through a symbolic link to its
    target; ValueError for a value the file would refuse when read back, so that what is saved is what the
    next start uses."""
    path = Path(path) if path else settings_path()
    saved = {key: getattr(settings, key) for key in saved_fields()}
    for key, value in saved.items():
        values = value if isinstance(value, list) else [value]
        if why := next(filter(None, (problem(key, v) for v in values)), None):
            raise ValueError(f"setting {key} {why}, got {value!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "# seesay settings\n" + "".join(f"{k} = {_toml_value(v)}\n" for k, v in saved.items())
    target = _written_to(path)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, target)
    return path
