"""SIGTERM is taken as Ctrl-C inside `sigterm_as_interrupt`, and only there."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from harness.interrupt import sigterm_as_interrupt


def test_sigterm_raises_keyboard_interrupt_inside_and_the_old_handler_comes_back() -> None:
    seen: list[int] = []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: seen.append(signum))
    try:
        with pytest.raises(KeyboardInterrupt), sigterm_as_interrupt():
            os.kill(os.getpid(), signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGTERM)  # outside: the handler set before is back
        assert seen == [signal.SIGTERM]
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_off_the_main_thread_it_changes_nothing() -> None:
    errors: list[BaseException] = []

    def body() -> None:
        try:
            with sigterm_as_interrupt():
                pass
        except BaseException as exc:  # signal.signal would raise ValueError here
            errors.append(exc)

    t = threading.Thread(target=body)
    t.start()
    t.join()
    assert errors == []


def test_run_threads_starts_all_and_waits_for_each() -> None:
    import threading
    import time

    from harness.interrupt import run_threads

    done: list[int] = []

    def work(i: int) -> None:
        time.sleep(0.05 * (3 - i))
        done.append(i)

    run_threads(threading.Thread(target=work, args=(i,)) for i in range(3))
    assert sorted(done) == [0, 1, 2]
