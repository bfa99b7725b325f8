"""Video sources: a file, an HTTP/UDP MPEG-TS URL, an RTSP URL or a capture device, decoded
with PyAV (FFmpeg's own decoders; see docs/video.md for the codec licences).

:class:`VideoReader` yields :class:`VideoFrame` objects, and, for live sources, a
:class:`SourceDropped` / :class:`SourceReconnected` pair around every outage: a live source
that fails to open, errors or ends is opened again after an exponential back-off
(``backoff_initial_s``, doubled each failed try, at most ``backoff_max_s``). Frame times
stay continuous across an outage (the outage's length, measured on the reader's clock, is
added). A file ends at its end and is never reopened.

Nothing here writes a file: frames are decoded in memory and handed on.

Example::

    for item in VideoReader("rtsp://camera.local/stream"):
        if isinstance(item, VideoFrame):
            item.rgb()  # (height, width, 3) uint8
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from facedocket.errors import InvalidVideo, SourceUnavailable
from facedocket.types import RGBArray

KINDS = ("file", "rtsp", "http", "udp", "device")
_NETWORK = {"rtsp": "rtsp", "rtsps": "rtsp", "http": "http", "https": "http", "udp": "udp", "rtp": "udp", "tcp": "http"}

Opener = Callable[..., Any]
"""Opens a source: called as ``opener(url, format=..., options=..., timeout=...)`` and returns
a PyAV input container (``av.open`` by default; tests swap it at the network edge)."""


def source_kind(source: str | Path) -> str:
    """``file``, ``rtsp``, ``http``, ``udp`` or ``device`` for a source string.

    >>> source_kind("rtsp://cam/1"), source_kind("udp://127.0.0.1:5000"), source_kind("/dev/video0")
    ('rtsp', 'udp', 'device')
    """
    text = str(source)
    scheme = text.split("://", 1)[0].lower() if "://" in text else ""
    if scheme:
        if scheme not in _NETWORK:
            raise InvalidVideo(f"unsupported video source scheme {scheme!r}; use a file, rtsp://, http://, udp://")
        return _NETWORK[scheme]
    if text.startswith("/dev/video") or text.startswith("device:"):
        return "device"
    return "file"


@dataclass(frozen=True)
class SourceOptions:
    """How a source is opened and kept open."""

    timeout_s: float = 10.0
    """Seconds to wait for a network source to open or to send data before it counts as dropped."""
    reconnect: bool | None = None
    """Reopen after a drop; ``None``: live sources (network, device) do, files do not."""
    backoff_initial_s: float = 0.5
    backoff_factor: float = 2.0
    backoff_max_s: float = 30.0
    max_attempts: int | None = None
    """Consecutive failed reopen attempts before :class:`SourceUnavailable`; ``None``: never give up."""
    rtsp_transport: str = "tcp"
    device_format: str = "v4l2"


@dataclass(frozen=True)
class SourceDropped:
    """A live source stopped delivering frames; the next try to open it is in ``retry_in_s``."""

    time: float
    error: str
    attempt: int
    retry_in_s: float


@dataclass(frozen=True)
class SourceReconnected:
    """A live source delivers frames again after ``attempts`` tries and ``outage_s`` seconds."""

    time: float
    attempts: int
    outage_s: float


class VideoFrame:
    """One decoded frame: its index and time (seconds from the start of the stream) and
    the pixels, converted on demand (frames that are never looked at cost no conversion)."""

    def __init__(self, index: int, time: float, frame: Any) -> None:
        self.index = index
        self.time = time
        self._frame = frame
        self._rgb: RGBArray | None = None

    @property
    def width(self) -> int:
        return int(self._frame.width)

    @property
    def height(self) -> int:
        return int(self._frame.height)

    def rgb(self) -> RGBArray:
        """The full-size frame as (height, width, 3) uint8 RGB."""
        if self._rgb is None:
            self._rgb = np.asarray(self._frame.to_ndarray(format="rgb24"), dtype=np.uint8)
        return self._rgb

    def scaled(self, width: int, height: int) -> RGBArray:
        """The frame resized to ``width`` x ``height`` RGB (FFmpeg's swscale, bilinear)."""
        if (width, height) == (self.width, self.height):
            return self.rgb()
        small = self._frame.reformat(width=width, height=height, format="rgb24", interpolation="BILINEAR")
        return np.asarray(small.to_ndarray(), dtype=np.uint8)


class ArrayFrame(VideoFrame):
    """A frame made from an RGB array (for callers that decode elsewhere)."""

    def __init__(self, index: int, time: float, pixels: RGBArray) -> None:
        super().__init__(index, time, None)
        self._rgb = pixels

    @property
    def width(self) -> int:
        return int(self.rgb().shape[1])

    @property
    def height(self) -> int:
        return int(self.rgb().shape[0])

    def scaled(self, width: int, height: int) -> RGBArray:
        from PIL import Image as PILImage

        if (width, height) == (self.width, self.height):
            return self.rgb()
        resized = PILImage.fromarray(self.rgb()).resize((width, height), PILImage.Resampling.BILINEAR)
        return np.asarray(resized, dtype=np.uint8)


SourceItem = VideoFrame | SourceDropped | SourceReconnected


class VideoReader:
    """Frames of one source, reconnecting a live source after drops (see module docstring).

    ``opener``, ``sleep`` and ``clock`` are the seams to the network and to time: tests pass
    a fake ``sleep`` so back-off costs no waiting.
    """

    def __init__(
        self,
        source: str | Path,
        options: SourceOptions | None = None,
        *,
        opener: Opener | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.source = str(source)
        self.kind = source_kind(source)
        self.options = options or SourceOptions()
        self._opener = opener
        self._sleep = sleep
        self._clock = clock
        self.reconnects = 0
        if self.kind == "file" and not Path(self.source).is_file():
            raise InvalidVideo(f"video file not found: {self.source}")

    @property
    def live(self) -> bool:
        return self.kind != "file"

    @property
    def reconnecting(self) -> bool:
        return self.live if self.options.reconnect is None else self.options.reconnect

    def __iter__(self) -> Iterator[SourceItem]:
        index, offset, last_time = 0, 0.0, 0.0
        container = self._open_first()
        delay = self.options.backoff_initial_s
        while True:
            error, delivered = "", 0
            try:
                for t, frame in self._decode(container, offset):
                    yield VideoFrame(index, t, frame)
                    index, last_time, delivered = index + 1, t, delivered + 1
            except Exception as e:  # any decoder or network failure is a drop
                if not self.reconnecting:
                    raise _invalid(self._name(), e, "cannot decode") from e
                error = _one_line(e)
            finally:
                container.close()
            if not self.reconnecting:
                return
            if delivered:  # a source that delivered frames starts its back-off afresh
                delay = self.options.backoff_initial_s
            container, delay, outage = yield from self._reconnect(last_time, error or "the stream ended", delay)
            offset = last_time + outage + 1e-3

    def _reconnect(
        self, last_time: float, error: str, delay: float
    ) -> Generator[SourceItem, None, tuple[Any, float, float]]:
        """Yields the drop and reconnect events; returns (container, next delay, outage seconds)."""
        started, attempt = self._clock(), 0
        while True:
            attempt += 1
            if self.options.max_attempts is not None and attempt > self.options.max_attempts:
                raise SourceUnavailable(
                    f"video source {self._name()} is unavailable after {attempt - 1} attempts: {error}"
                )
            yield SourceDropped(last_time, error, attempt, delay)
            self._sleep(delay)
            delay = min(delay * self.options.backoff_factor, self.options.backoff_max_s)
            try:
                container = self._open()
            except Exception as e:  # any failure to open is retried
                error = _one_line(e)
                continue
            self.reconnects += 1
            outage = self._clock() - started
            yield SourceReconnected(last_time + outage, attempt, outage)
            return container, delay, outage

    def _open_first(self) -> Any:
        try:
            return self._open()
        except Exception as e:
            if not self.reconnecting or isinstance(e, InvalidVideo):
                raise _invalid(self._name(), e) from e
            # a live source that is down at start is retried like a drop
            return _Pending(_one_line(e))

    def _open(self) -> Any:
        opener = self._opener or _av_open()
        kwargs: dict[str, Any] = {"timeout": self.options.timeout_s}
        options: dict[str, str] = {}
        if self.kind == "rtsp":
            options["rtsp_transport"] = self.options.rtsp_transport
        if self.kind == "device":
            kwargs["format"] = self.options.device_format
        if options:
            kwargs["options"] = options
        target = self.source.removeprefix("device:")
        return opener(target, **kwargs)

    def _decode(self, container: Any, offset: float) -> Iterator[tuple[float, Any]]:
        if isinstance(container, _Pending):
            raise ConnectionError(container.error)
        if not container.streams.video:
            raise InvalidVideo(f"{self._name()} has no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        first: float | None = None
        fallback = 1.0 / float(stream.average_rate or 25)
        for n, frame in enumerate(container.decode(stream)):
            t = frame.time if frame.time is not None else n * fallback
            first = t if first is None else first
            yield offset + max(0.0, t - first), frame

    def _name(self) -> str:
        if self.kind == "file":
            return Path(self.source).name
        # never show credentials embedded in a URL
        scheme, _, rest = self.source.partition("://")
        return f"{scheme}://{rest.rsplit('@', 1)[-1]}" if rest else self.source


class _Pending:
    """Stands in for a container when a live source could not be opened at start."""

    def __init__(self, error: str) -> None:
        self.error = error

    def close(self) -> None:
        pass


def _av_open() -> Opener:
    import av

    return av.open


def _invalid(name: str, error: Exception, what: str = "cannot open video") -> InvalidVideo:
    if isinstance(error, InvalidVideo):
        return error
    return InvalidVideo(f"{what} {name}: {_one_line(error)}")


def _one_line(error: BaseException) -> str:
    """The first line of an error's message (FFmpeg's text without its errno and URL)."""
    strerror = getattr(error, "strerror", None)
    text = (strerror if isinstance(strerror, str) and strerror else str(error)).strip().splitlines()
    return text[0] if text else type(error).__name__
