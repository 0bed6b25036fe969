"""A tiny trained classify run, and a real uvicorn server on 127.0.0.1 (a free port) for the tests that need sockets."""
import socket
import threading
import time
from contextlib import contextmanager

import pytest
from tiny_runs import SMALL_CLASSIFIER, train_tiny


@pytest.fixture(scope="session")
def classify_run(tmp_path_factory, make_digits):
    """(run folder, one digit image) of a one-epoch tiny_cnn_small on 3 classes of real digits."""
    root = tmp_path_factory.mktemp("serve")
    data = make_digits(root / "digits", per_class=8, classes=range(3))
    run = train_tiny("classify", data=data, out=root / "run-digits", **SMALL_CLASSIFIER)
    return run.dir, sorted((data / "1").iterdir())[0]


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
