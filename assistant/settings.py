"""The user's settings: a TOML file in the user's config directory, editable from the app.

    ~/.config/seesay/settings.toml on Linux; $SEESAY_CONFIG names another file.

Unknown keys are kept out, wrong types fall back to the defaults with a warning: a hand-edited file can
never stop seesay from starting.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from platformdirs import user_config_dir


@dataclass
class Settings:
    speech: bool = True  # speak descriptions and state changes
    rate: int = 175  # words per minute
    volume: float = 1.0  # 0..1
    voice: str = ""  # a voice id of the speech engine; empty for its default
    camera: int = 0  # device index of the default camera
    beam_size: int = 3
    scene_threshold: float = 18.0  # how different (0..255, on thumbnails) a view must be to be described
    min_interval: float = 2.0  # seconds between automatic descriptions
    watch: list[str] = field(default_factory=list)  # folders to watch
    db: str = ""  # the photo index; empty for the default


def settings_path() -> Path:
    return Path(os.environ.get("SEESAY_CONFIG") or Path(user_config_dir("seesay")) / "settings.toml")


def load_settings(path: str | os.PathLike | None = None) -> tuple[Settings, list[str]]:
    """Settings from the file (defaults where absent), and warnings about what could not be used."""
    path = Path(path) if path else settings_path()
    settings, warnings = Settings(), []
    if not path.is_file():
        return settings, warnings
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        return settings, [f"Settings file {path} could not be read ({exc}); using defaults."]
    known = {f.name: f for f in fields(Settings)}
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
        if ok:
            setattr(settings, key, value)
        else:
            warnings.append(f"Setting {key} = {value!r} has the wrong type; using {default!r}.")
    return settings, warnings


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    escaped = str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def save_settings(settings: Settings, path: str | os.PathLike | None = None) -> Path:
    """Write the settings atomically (a crash mid-write leaves the old file)."""
    path = Path(path) if path else settings_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "# seesay settings\n" + "".join(f"{k} = {_toml_value(v)}\n" for k, v in asdict(settings).items())
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path
