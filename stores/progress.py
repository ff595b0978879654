"""Progress lines for long commands: at most one a second, on stderr, and a summary at the end."""

import sys
import time


class Progress:
    def __init__(self, what, total=None, stream=None, every=1.0):
        self.what, self.total, self.every = what, total, every
        self.stream = stream or sys.stderr
        self.done = 0
        self._shown = 0.0

    def advance(self, n=1):
        self.done += n
        now = time.monotonic()
        if now - self._shown >= self.every:
            self._shown = now
            self.stream.write(self.line() + "\n")
            self.stream.flush()

    def line(self):
        if self.total:
            percent = 100 * self.done / self.total
            bar = "#" * int(percent // 5)
            return f"[{bar:<20}] {percent:5.1f}% {self.done:,}/{self.total:,} {self.what}"
        return f"{self.done:,} {self.what}"
