"""A pytest plugin: CPU seconds of every test's setup, call and teardown (this process and the child processes it
waited for; not Ray's workers), appended to a TSV with the wall seconds and the load average. On a shared machine the
wall times of ``--durations`` swing with the load; the CPU seconds do not.

    PYTHONPATH=.:tools python -m pytest -p pytest_cpu_seconds -m slow tests/tasks     # -> cpu_seconds.tsv
    CPU_SECONDS_TSV=/tmp/slow.tsv PYTHONPATH=.:tools python -m pytest -p pytest_cpu_seconds ...
"""
import os
import resource
import time

import pytest

TSV = os.environ.get("CPU_SECONDS_TSV", "cpu_seconds.tsv")


def _cpu_seconds() -> float:
    mine, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return mine.ru_utime + mine.ru_stime + children.ru_utime + children.ru_stime


def _timed(item, phase: str):
    cpu, wall = _cpu_seconds(), time.perf_counter()
    yield
    with open(TSV, "a") as f:
        f.write(f"{item.nodeid}\t{phase}\t{_cpu_seconds() - cpu:.2f}\t{time.perf_counter() - wall:.2f}\t{os.getloadavg()[0]:.1f}\n")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item):
    yield from _timed(item, "setup")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    yield from _timed(item, "call")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item, nextitem):
    yield from _timed(item, "teardown")
