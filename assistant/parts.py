"""The app's running parts: live description, the folder watcher and the photo index.

They are started together, rewired together when the settings change (a new camera, other folders,
another index file, another captioner) and stopped together; each is built by the `Runtime`, as for the
commands (issue 25). They report only through `post` (the app's `post_message`,
safe from any thread), so nothing here touches a widget.
"""

from __future__ import annotations

from collections.abc import Callable

from .camera import FrameSource
from .live import LiveDescriber
from .messages import Announce, Described
from .runtime import Runtime, SetupError
from .services import Watcher

NO_CAMERA = "No camera. To describe one, start seesay with --camera N or --video FILE, or set camera in the settings."


class Parts:
    """Live description, folder watching and the photo index, made from a runtime."""

    def __init__(self, runtime: Runtime, post: Callable[[object], object], camera: FrameSource | None,
                 loop_video: bool = True) -> None:
        self.runtime, self.post, self.loop_video = runtime, post, loop_video
        self.text_mode = runtime.settings.live_text  # live descriptions also read text (the app's x)
        self.live = self._live(camera)
        self.store = self.model = None
        self.watcher: Watcher | None = None

    def _live(self, camera: FrameSource | None) -> LiveDescriber | None:
        if camera is None:
            return None
        return self.runtime.live_describer(camera, on_description=lambda o: self.post(Described(o)),
                                           on_status=lambda m: self.post(Announce(m, problem=True)))

    def start(self) -> None:
        """Open the index and the camera (the preview shows before the model has loaded)."""
        self.open_store()
        if self.live is not None:
            self.live.start()

    def open_store(self) -> None:
        try:
            self.store = self.runtime.store(writable=True, create=True)
        except SetupError as exc:
            self.store = None
            self.post(Announce(f"The photo index cannot be opened: {exc}. Search and folder watching are off.",
                               problem=True))

    def use(self, describer) -> str:
        """Start describing with the loaded model (the runtime's photo describer); what to announce."""
        self.model = describer
        if self.live is None:
            said = "No camera."
        elif self.live.ended.is_set() and self.live.latest() is None:
            said = f"Nothing to describe: {self.live.name} gave no frames."
        else:
            self.live.use(self.runtime.describer_reading(self.text_mode))
            said = f"Describing {self.live.name} when what is in view changes; d describes now."
            if self.live.latest() is None:
                said = f"{self.live.name.capitalize()} has sent no picture yet; descriptions start when it does."
        return " ".join(p for p in (said, self.start_watcher()) if p)

    def read_text_live(self, on: bool) -> None:
        """Text mode: live descriptions read the text in view too (watched folders keep read_text)."""
        self.text_mode = on
        if self.live is not None and self.model is not None:
            self.live.use(self.runtime.describer_reading(on))

    def start_watcher(self) -> str:
        folders = self.runtime.watch_folders
        if not folders or self.store is None or self.model is None:
            return ""
        self.watcher = self.runtime.folder_watcher(
            self.store, folders, describer=self.model, on_description=lambda d: self.post(Described(d)),
            on_status=lambda m: self.post(Announce(m, problem=True)),
        ).start()
        return f"Watching {len(folders)} folder{'s' * (len(folders) > 1)}."

    def tune(self) -> None:
        s = self.runtime.settings
        if self.live is not None:
            self.live.tune(threshold=s.scene_threshold, min_interval=s.min_interval, every=s.describe_every,
                           beam_size=s.beam_size)

    def rewire(self, runtime: Runtime) -> None:
        """Apply changed settings: a changed captioner (beam size) is loaded, and a changed camera, folders or
        index file is stopped and started anew. Blocking (it loads, it waits for threads to stop): call it
        from a worker thread."""
        old, self.runtime = self.runtime, runtime
        remodelled = self._remodel(old)
        self.tune()
        if self.runtime.camera_source != old.camera_source:
            self._switch_camera()
        elif self.runtime.settings.camera != old.settings.camera:
            self.post(Announce(f"Camera {self.runtime.settings.camera} is saved for next time; this session keeps "
                               "the camera given on the command line."))
        if remodelled or self.runtime.db_path != old.db_path or self.runtime.watch_folders != old.watch_folders:
            if self.watcher is not None:
                self.watcher.stop()
                self.watcher = None
            if self.runtime.db_path != old.db_path:
                if self.store is not None:
                    self.store.close()
                self.open_store()
            self.post(Announce(self.start_watcher() or "No folders are watched."))

    def _remodel(self, old: Runtime) -> bool:
        """Load the describer the new settings choose (another beam size may need another engine), as the
        commands would; on failure say why and keep describing as before. Whether the describer changed."""
        if self.model is None or self.runtime.describes_like(old):
            return False
        try:
            self.model = self.runtime.describer
        except SetupError as exc:
            self.post(Announce(f"Describing goes on as before; the new settings cannot describe here: {exc}",
                               problem=True))
            self.runtime = old
            return False
        if self.live is not None:
            self.live.use(self.runtime.describer_reading(self.text_mode))
        return True

    def _switch_camera(self) -> None:
        if self.live is not None:
            self.live.stop()
        self.live = self._live(self.runtime.camera(loop=self.loop_video))
        if self.live is None:
            self.post(Announce(NO_CAMERA))
            return
        self.live.start()
        if self.model is not None:
            self.live.use(self.runtime.describer_reading(self.text_mode))
        self.post(Announce(f"Describing {self.live.name}."))

    def stop(self) -> None:
        for part in (self.live, self.watcher):
            if part is not None:
                part.stop()
        if self.store is not None:
            self.store.close()
