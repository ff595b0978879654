"""A write load: threads appending numbered batches to shared conversations, recording every outcome.

Each batch holds BATCH_SIZE user events whose text names the writer, the
batch and the event ("w2 b17 e0"), so what a store holds afterwards can be
checked against what each writer was told.
"""

import threading
import time
from dataclasses import dataclass

from django.db import connections

BATCH_SIZE = 3


@dataclass
class Attempt:
    writer: int
    batch: int
    sender_id: str
    phase: int  # the load's phase when the attempt started (see WriteLoad.next_phase)
    ended_phase: int  # and when its answer came
    ok: bool
    error: BaseException = None


def batch_events(writer, batch):
    return [{"event": "user", "text": f"w{writer} b{batch} e{k}", "timestamp": time.time(),
             "parse_data": {"intent": {"name": "greet", "confidence": 1.0}, "entities": []}}
            for k in range(BATCH_SIZE)]


def parse_text(text):
    """(writer, batch, event) from "w2 b17 e0"."""
    w, b, e = text.split()
    return int(w[1:]), int(b[1:]), int(e[1:])


class WriteLoad:
    def __init__(self, store, writers, sender_ids):
        self.store = store
        self.sender_ids = list(sender_ids)
        self.attempts = []
        self.phase = 0
        self._kinds = ["before"]
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._write, args=(w,), daemon=True) for w in range(writers)]

    def start(self):
        for thread in self._threads:
            thread.start()

    def stop(self):
        self._stopping.set()
        for thread in self._threads:
            thread.join(timeout=60)
            assert not thread.is_alive(), "a writer hung"

    def next_phase(self, kind):
        """Start a new phase of the given kind; attempts record the phase they started and ended in."""
        with self._lock:
            self._kinds.append(kind)
            self.phase += 1
            return self.phase

    def kind(self, phase):
        return self._kinds[phase]

    def _write(self, writer):
        batch = 0
        try:
            while not self._stopping.is_set():
                sender_id = self.sender_ids[(writer + batch) % len(self.sender_ids)]
                phase = self.phase
                try:
                    self.store.append(sender_id, batch_events(writer, batch))
                except Exception as e:  # every kind is recorded; the test says which are acceptable
                    attempt = Attempt(writer, batch, sender_id, phase, self.phase, ok=False, error=e)
                    time.sleep(0.05)  # as a bot would, rather than spin on a dead server
                else:
                    attempt = Attempt(writer, batch, sender_id, phase, self.phase, ok=True)
                with self._lock:
                    self.attempts.append(attempt)
                batch += 1
        finally:
            connections.close_all()  # this thread's own database connections

    def of(self, writer, phase=None, ok=None):
        with self._lock:
            return [a for a in self.attempts if a.writer == writer and (phase is None or a.phase == phase)
                    and (ok is None or a.ok == ok)]

    def wait_until(self, condition, what, seconds=90):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if condition():
                return
            time.sleep(0.05)
        raise AssertionError(f"Not within {seconds} s: {what}. Outcomes so far: {self.summary()}")

    def summary(self):
        with self._lock:
            counts = {}
            for a in self.attempts:
                key = (a.phase, "ok" if a.ok else type(a.error).__name__)
                counts[key] = counts.get(key, 0) + 1
            return counts

    @property
    def writers(self):
        return range(len(self._threads))
