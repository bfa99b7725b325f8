"""Live streams for the tests: a local HTTP server that sends one MPEG-TS file as a camera
would, and drops the connection (the network edge), and the back-off seam."""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FakeSleep:
    """The back-off seam: records the delays instead of waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


class TsServer(ThreadingHTTPServer):
    """Serves one MPEG-TS file: the first connection is cut after ``cut`` bytes (a drop),
    the second gets the whole stream, later ones are refused (the camera is gone)."""

    def __init__(self, data: bytes, cut: int) -> None:
        super().__init__(("127.0.0.1", 0), TsHandler)
        self.data, self.cut, self.connections = data, cut, 0


class TsHandler(BaseHTTPRequestHandler):
    server: TsServer

    def do_GET(self) -> None:
        self.server.connections += 1
        n = self.server.connections
        if n > 2:
            self.send_error(503, "camera offline")
            return
        self.send_response(200)
        self.send_header("Content-Type", "video/mp2t")
        self.end_headers()
        body = self.server.data[: self.server.cut] if n == 1 else self.server.data
        for start in range(0, len(body), 188 * 64):
            self.wfile.write(body[start : start + 188 * 64])
        self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        pass
