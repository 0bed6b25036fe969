"""A tiny MJPEG-over-HTTP server on 127.0.0.1 for the tests: one colour per server, ``frames`` frames at ``fps``, then it closes."""
from __future__ import annotations

import io
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from PIL import Image


def jpeg(rgb: tuple[int, int, int], size: int = 32) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (size, size), rgb).save(out, "JPEG", quality=90)
    return out.getvalue()


class MjpegServer:
    """``with MjpegServer(rgb, frames, fps, port) as server``: serves ``server.url`` to one client once (later requests
    get 404, as a camera that went away; ``repeat=True``: every request is served); leaving the block kills it."""

    def __init__(self, rgb: tuple[int, int, int], frames: int, fps: float = 30.0, port: int = 0, repeat: bool = False):
        picture, self.stopping, self.served = jpeg(rgb), threading.Event(), threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                if outer.served.is_set() and not repeat:
                    self.send_error(404)
                    return
                outer.served.set()
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.end_headers()
                for _ in range(frames):
                    if outer.stopping.is_set():
                        return
                    part = b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(picture)
                    try:
                        self.wfile.write(part + picture + b"\r\n")
                    except OSError:
                        return
                    time.sleep(1.0 / fps)

            def log_message(self, *args):
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/stream.mjpg"

    def __enter__(self) -> MjpegServer:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()
