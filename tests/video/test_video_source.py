"""Video sources: files, bad input, back-off, and a live MPEG-TS stream over HTTP from a
local server that drops the connection mid-stream."""

from __future__ import annotations

import itertools
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import pytest
import scenes
from streams import FakeSleep, TsServer

from facedocket.errors import InvalidVideo, SourceUnavailable
from facedocket.types import Box
from facedocket.video.events import Hit, TrackEnded
from facedocket.video.source import (
    SourceDropped,
    SourceOptions,
    SourceReconnected,
    VideoFrame,
    VideoReader,
    source_kind,
)
from facedocket.video.tracking import IouTracker
from facedocket.video.watch import Watcher
from facedocket.video.watchlist import Watchlist
from facedocket.vision.pipeline import FacePipeline


def test_source_kinds() -> None:
    assert source_kind("rtsp://user:pw@cam.local/1") == "rtsp"
    assert source_kind("http://127.0.0.1:8000/live.ts") == "http"
    assert source_kind("udp://127.0.0.1:5000") == "udp"
    assert source_kind("/dev/video0") == "device"
    assert source_kind("recording.mp4") == "file"
    with pytest.raises(InvalidVideo, match="scheme"):
        source_kind("ftp://x/y")


def test_missing_and_broken_files_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(InvalidVideo, match="not found"):
        VideoReader(tmp_path / "nope.mp4")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"this is not a video" * 100)
    with pytest.raises(InvalidVideo, match=r"cannot open video junk\.mp4") as info:
        list(VideoReader(junk))
    assert "\n" not in str(info.value)
    sound = tmp_path / "sound.wav"
    with wave.open(str(sound), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\0\0" * 8000)
    with pytest.raises(InvalidVideo, match=r"^sound\.wav has no video stream$"):
        list(VideoReader(sound))


def test_file_frames_have_index_and_time(walk_video: Path, walk_scene: scenes.Scene) -> None:
    frames = [f for f in VideoReader(walk_video) if isinstance(f, VideoFrame)]
    assert len(frames) == walk_scene.frame_count
    assert [f.index for f in frames[:3]] == [0, 1, 2]
    assert frames[25].time == pytest.approx(1.0, abs=1e-6)
    assert frames[0].rgb().shape == (540, 960, 3)
    assert frames[0].scaled(480, 270).shape == (270, 480, 3)


def test_backoff_doubles_up_to_the_cap_and_gives_up(walk_video: Path) -> None:
    """A live source that is down: tries at 0.5, 1, 2, 4, 4 s, then SourceUnavailable."""
    calls: list[str] = []

    def refuse(url: str, **kwargs: Any) -> Any:
        calls.append(url)
        raise ConnectionRefusedError("connection refused")

    sleep = FakeSleep()
    options = SourceOptions(backoff_initial_s=0.5, backoff_max_s=4.0, max_attempts=5)
    reader = VideoReader("rtsp://user:secret@127.0.0.1:1/cam", options, opener=refuse, sleep=sleep)
    items = []
    with pytest.raises(SourceUnavailable) as info:
        items.extend(reader)
    assert sleep.delays == [0.5, 1.0, 2.0, 4.0, 4.0]
    assert len(calls) == 6  # the first open and five retries
    assert [i.attempt for i in items if isinstance(i, SourceDropped)] == [1, 2, 3, 4, 5]
    assert "secret" not in str(info.value) and "\n" not in str(info.value)


def test_reconnect_after_a_failed_open_then_frames_resume(walk_video: Path) -> None:
    """The opener is the network edge: it fails twice, then opens the real file."""
    failures = iter([OSError("timed out"), OSError("timed out")])

    def flaky(url: str, **kwargs: Any) -> Any:
        error = next(failures, None)
        if error:
            raise error
        return av.open(str(walk_video))

    sleep = FakeSleep()
    ticks = iter(range(1000))
    options = SourceOptions(max_attempts=3)
    clock = lambda: float(next(ticks))  # noqa: E731
    reader = VideoReader("http://127.0.0.1:9/live.ts", options, opener=flaky, sleep=sleep, clock=clock)
    items = []
    for item in reader:
        items.append(item)
        if isinstance(item, VideoFrame) and item.index == 10:
            break
    kinds = [type(i).__name__ for i in items[:3]]
    assert kinds == ["SourceDropped", "SourceDropped", "SourceReconnected"]
    assert sleep.delays == [0.5, 1.0]
    assert isinstance(items[3], VideoFrame) and items[3].index == 0


# --- a live stream from a local HTTP server -------------------------------------------------


def test_live_stream_survives_a_dropped_connection(
    ts_server: TsServer, pipeline: FacePipeline, watchlist: Watchlist, walk_scene: scenes.Scene
) -> None:
    url = f"http://127.0.0.1:{ts_server.server_address[1]}/live.ts"
    sleep = FakeSleep()
    reader = VideoReader(url, SourceOptions(timeout_s=5, max_attempts=2), sleep=sleep)
    events: list[object] = []
    frames: list[float] = []

    def counted() -> Iterator[Any]:
        for item in reader:
            if isinstance(item, VideoFrame):
                frames.append(item.time)
            yield item

    with pytest.raises(SourceUnavailable, match="5XX"):
        events.extend(Watcher(pipeline, watchlist).run(counted()))
    dropped = [e for e in events if isinstance(e, SourceDropped)]
    reconnected = [e for e in events if isinstance(e, SourceReconnected)]
    assert len(reconnected) == 1 and reader.reconnects == 1
    assert dropped and dropped[0].attempt == 1
    assert len(frames) > walk_scene.frame_count  # the cut part, then the whole stream again
    assert all(b > a for a, b in itertools.pairwise(frames)), "time runs on across the drop"
    hits = [e for e in events if isinstance(e, Hit)]
    after = reconnected[0].time
    assert any(h.time > after for h in hits), "the watcher matches again after reconnecting"
    assert not any(isinstance(e, TrackEnded) and e.best is not None and not e.matched for e in events)


def test_iou_tracker_follows_a_walking_face_and_separates_two() -> None:
    tracker = IouTracker()
    ids = [tracker.update([Box(10 + 60 * k, 10, 90 + 60 * k, 90)], [0.99], 0.2 * k)[0] for k in range(6)]
    assert len(set(ids)) == 1, "a face moving most of its width per step stays one track"
    both = tracker.update([Box(370, 10, 450, 90), Box(10, 300, 90, 380)], [0.99, 0.99], 1.2)
    assert both[0] == ids[0] and both[1] != ids[0]
    tracker.forget(ids[0])
    assert tracker.update([Box(430, 10, 510, 90)], [0.99], 1.4)[0] not in (ids[0], both[1])
