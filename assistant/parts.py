"""The app's running parts: live description, the folder watcher and the photo index.

They are started together, rewired together when the settings change (a new camera, other folders,
another index file) and stopped together. They report only through `post` (the app's `post_message`,
safe from any thread), so nothing here touches a widget.
"""

from __future__ import annotations

from collections.abc import Callable

from .camera import FrameSource, SceneChange
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
        self.live = self._live(camera)
        self.store = self.model = None
        self.watcher: Watcher | None = None

    def _live(self, camera: FrameSource | None) -> LiveDescriber | None:
        if camera is None:
            return None
        s = self.runtime.settings
        return LiveDescriber(camera, on_description=lambda o: self.post(Described(o)),
                             on_status=lambda m: self.post(Announce(m, problem=True)),
                             scene=SceneChange(s.scene_threshold, min_interval=s.min_interval),
                             beam_size=s.beam_size, every=s.describe_every)

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
        """Start describing with the loaded model; what to announce."""
        self.model = describer
        if self.live is None:
            said = "No camera."
        elif self.live.ended.is_set() and self.live.latest() is None:
            said = f"Nothing to describe: {self.live.name} gave no frames."
        else:
            self.live.use(describer)
            said = f"Describing {self.live.name} when what is in view changes; d describes now."
            if self.live.latest() is None:
                said = f"{self.live.name.capitalize()} has sent no picture yet; descriptions start when it does."
        return " ".join(p for p in (said, self.start_watcher()) if p)

    def start_watcher(self) -> str:
        from .watcher import FolderWatcher

        folders = self.runtime.watch_folders
        if not folders or self.store is None or self.model is None:
            return ""
        self.watcher = FolderWatcher(
            self.store, self.model, folders, beam_size=self.runtime.settings.beam_size,
            on_description=lambda d: self.post(Described(d)),
            on_status=lambda m: self.post(Announce(m, problem=True)),
        ).start()
        return f"Watching {len(folders)} folder{'s' * (len(folders) > 1)}."

    def tune(self) -> None:
        s = self.runtime.settings
        if self.live is not None:
            self.live.tune(threshold=s.scene_threshold, min_interval=s.min_interval, every=s.describe_every,
                           beam_size=s.beam_size)

    def rewire(self, runtime: Runtime) -> None:
        """Apply changed settings: a changed camera, folders or index file is stopped and started anew.
        Blocking (it waits for threads to stop): call it from a worker thread."""
        old, self.runtime = self.runtime, runtime
        self.tune()
        if runtime.camera_source != old.camera_source:
            if self.live is not None:
                self.live.stop()
            self.live = self._live(runtime.camera(loop=self.loop_video))
            if self.live is None:
                self.post(Announce(NO_CAMERA))
            else:
                self.live.start()
                if self.model is not None:
                    self.live.use(self.model)
                self.post(Announce(f"Describing {self.live.name}."))
        elif runtime.settings.camera != old.settings.camera:
            self.post(Announce(f"Camera {runtime.settings.camera} is saved for next time; this session keeps the "
                               "camera given on the command line."))
        if runtime.db_path != old.db_path or runtime.watch_folders != old.watch_folders:
            if self.watcher is not None:
                self.watcher.stop()
                self.watcher = None
            if runtime.db_path != old.db_path:
                if self.store is not None:
                    self.store.close()
                self.open_store()
            self.post(Announce(self.start_watcher() or "No folders are watched."))

    def stop(self) -> None:
        for part in (self.live, self.watcher):
            if part is not None:
                part.stop()
        if self.store is not None:
            self.store.close()
