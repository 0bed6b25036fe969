"""A real uvicorn server on 127.0.0.1 (a free port) for the serve tests that need sockets. A module of its own, not
the conftest: ``from conftest import`` finds whichever conftest was imported first (tests/conftest.py has none of this)."""
import socket
import threading
import time
from contextlib import contextmanager


@contextmanager
def running_server(app):
    """``app`` served by uvicorn on 127.0.0.1 in a thread: yields (base URL, uvicorn.Server); stops it on exit."""
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=20))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", server
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()
