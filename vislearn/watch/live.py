"""``watch --serve``: a small HTTP server on the loopback address that shows the live annotated stream and the counts.

    GET /             the page (HTML and a few lines of JavaScript from this package; nothing from the internet)
    GET /stream.mjpg  the annotated frames as MJPEG (multipart/x-mixed-replace), each frame once, as it is analysed
    GET /frame.jpg    the newest annotated frame (503 before the first)
    GET /counts       {"frames", "counts": line/zone counts and tracks, "figures": FPS, dropped frames, lag, "ended"}
    GET /events       {"events": [...], "last": N}; ``?after=N`` gives only the events after the N-th

Viewers of the stream are bounded (``max_viewers``; one more gets 503), a stream ends when the source does, and
``stop()`` closes the socket and ends every stream within about a second. Only loopback addresses may be bound:
the page has no login, so it must not be reachable from other computers.
"""
from __future__ import annotations

import ipaddress
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from ..errors import VislearnError
from .board import LiveBoard

BOUNDARY = "vislearnframe"
PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>vislearn watch</title>
<style>body{font-family:sans-serif;margin:1em;background:#111;color:#eee}img{max-width:100%;image-rendering:pixelated;
min-width:384px;border:1px solid #444}pre{background:#222;padding:.5em;max-height:24em;overflow:auto}.row{display:flex;gap:1em;
flex-wrap:wrap}</style></head>
<body><h1>vislearn watch</h1><div class="row"><div><img id="stream" src="/stream.mjpg" alt="live annotated stream"></div>
<div><h2>Counts</h2><pre id="counts">waiting for the first frame</pre><h2>Events</h2><pre id="events"></pre></div></div>
<script>
let last = 0;
async function poll() {
  try {
    const state = await (await fetch('/counts')).json();
    document.getElementById('counts').textContent = JSON.stringify(state, null, 1);
    const got = await (await fetch('/events?after=' + last)).json();
    const box = document.getElementById('events');
    for (const e of got.events) { box.textContent = JSON.stringify(e) + '\\n' + box.textContent; }
    last = got.last;
    if (state.ended) { document.getElementById('counts').textContent += '\\n(the source has ended)'; return; }
  } catch (err) { document.getElementById('counts').textContent = 'watch has stopped'; return; }
  setTimeout(poll, 1000);
}
poll();
</script></body></html>
"""


def check_loopback(host: str) -> None:
    """VislearnError unless ``host`` is localhost or a loopback address (watch may not import serve: sibling layers)."""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise VislearnError(f"--host {host}: watch --serve binds to this computer only (127.0.0.1, ::1, localhost): "
                            "its page has no login; put an authenticating proxy in front to show it elsewhere")


class LiveServer:
    """The board behind HTTP on ``host:port`` (port 0: any free port; ``url`` says which), in background threads."""

    def __init__(self, board: LiveBoard, host: str = "127.0.0.1", port: int = 8090, max_viewers: int = 4):
        check_loopback(host)
        self.board, self.viewers = board, threading.BoundedSemaphore(max_viewers)
        self.stopping = threading.Event()
        try:
            self._http = ThreadingHTTPServer((host, port), _handler(self))
        except OSError as exc:
            raise VislearnError(f"--port {port}: cannot listen on {host}:{port} ({exc}); choose another port") from None
        self._http.daemon_threads = True
        self.url = f"http://{host}:{self._http.server_address[1]}/"
        self._thread = threading.Thread(target=self._http.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="vislearn-watch-serve", daemon=True)

    def __enter__(self) -> LiveServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def stop(self) -> None:
        self.stopping.set()
        self.board.close()
        self._http.shutdown()
        self._http.server_close()
        self._thread.join(timeout=5)


def _handler(server: LiveServer) -> type[BaseHTTPRequestHandler]:
    board = server.board

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):  # noqa: A002 - quiet: the watch log is the user's, not one line per poll
            pass

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def _json(self, value: dict, status: int = 200) -> None:
            self._send(status, json.dumps(value).encode(), "application/json")

        def do_GET(self):  # noqa: N802 - http.server's name
            url = urlparse(self.path)
            route = ROUTES.get(url.path)
            if route is None:
                return self._json({"error": f"no such page: {url.path}"}, 404)
            return route(self, parse_qs(url.query))

        def page(self, query):
            self._send(200, PAGE.encode(), "text/html; charset=utf-8")

        def counts(self, query):
            self._json(board.state())

        def events(self, query):
            try:
                after = int(query.get("after", ["0"])[0])
            except ValueError:
                return self._json({"error": "after: expected a whole number"}, 400)
            found, last = board.events_after(after)
            self._json({"events": found, "last": last})

        def frame(self, query):
            _, jpeg = board.jpeg()
            if not jpeg:
                return self._json({"error": "no frame analysed yet"}, 503)
            self._send(200, jpeg, "image/jpeg")

        def stream(self, query):
            if not server.viewers.acquire(blocking=False):
                return self._json({"error": "too many viewers of the stream; try again later"}, 503)
            try:
                self.send_response(200)
                self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
                self.send_header("Cache-Control", "no-store")
                self.send_header("Connection", "close")
                self.end_headers()
                self._frames()
            except (BrokenPipeError, ConnectionResetError):
                pass  # the viewer went away
            finally:
                server.viewers.release()
                self.close_connection = True

        def _frames(self) -> None:
            sent = 0
            while not server.stopping.is_set():
                version, jpeg = board.jpeg()
                if version > sent:
                    self.wfile.write(f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n".encode())
                    self.wfile.write(jpeg + b"\r\n")
                    self.wfile.flush()
                    sent = version
                elif board.closed:
                    return
                board.wait_newer(sent, timeout_s=0.5)

    ROUTES = {"/": Handler.page, "/counts": Handler.counts, "/events": Handler.events, "/frame.jpg": Handler.frame,
              "/stream.mjpg": Handler.stream}
    return Handler
