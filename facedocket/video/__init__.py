"""Video: decode a file or a live stream, track the faces in it, match one template per
track against a watchlist, and report events. Pure computation: no database, no service,
no files written.

* :mod:`facedocket.video.source`: :class:`VideoReader` (PyAV; files, HTTP/UDP MPEG-TS, RTSP,
  devices; reconnects live sources with back-off);
* :mod:`facedocket.video.tracking`: :class:`IouTracker`;
* :mod:`facedocket.video.watchlist`: :class:`Watchlist` (exact search at a threshold);
* :mod:`facedocket.video.watch`: :class:`Watcher`, frames in, events out;
* :mod:`facedocket.video.events`: the events (TrackStarted, Hit, TrackEnded, FacesCounted).

Nothing is imported here, so ``import facedocket.video`` loads neither PyAV nor a model.
"""
