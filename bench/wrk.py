"""Load from Debian's `wrk`: a run against one URL, its requests per second and 99th percentile latency."""

import re
import shutil
import subprocess

UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


class LoadFailed(Exception):
    """wrk could not run, or some of its requests failed (an error status, a socket error, a timeout)."""


class Result:
    def __init__(self, requests_per_second, p99_ms, requests):
        self.requests_per_second, self.p99_ms, self.requests = requests_per_second, p99_ms, requests


def run(url, seconds, connections=8, threads=2, headers=()):
    """wrk against `url` for `seconds`; raises LoadFailed unless every request got a 2xx or 3xx answer
    (the caller checks a first request by hand: wrk counts a redirect to the login page as a success)."""
    if shutil.which("wrk") is None:
        raise LoadFailed("wrk is not installed: `make bench` installs Debian's wrk (apt-get install wrk)")
    command = ["wrk", f"--threads={threads}", f"--connections={connections}", f"--duration={seconds}s",
               "--timeout=30s", "--latency"]
    for header in headers:
        command += ["--header", header]
    done = subprocess.run(command + [url], capture_output=True, text=True, timeout=seconds + 60)
    if done.returncode != 0:
        raise LoadFailed(f"wrk exited with {done.returncode}: {done.stderr.strip() or done.stdout.strip()}")
    return parse(done.stdout)


def parse(output):
    """A Result from wrk's report; LoadFailed if it counts non-2xx/3xx answers or socket errors."""
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if bad:
        raise LoadFailed(f"{bad.group(1)} answers were not 2xx/3xx:\n{output}")
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    if errors and any(int(n) for n in errors.groups()):
        raise LoadFailed(f"socket errors ({errors.group(0)}):\n{output}")
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.MULTILINE)
    total = re.search(r"(\d+) requests in", output)
    if not (rate and p99 and total):
        raise LoadFailed(f"wrk's report is not as expected (run with --latency?):\n{output}")
    return Result(float(rate.group(1)), float(p99.group(1)) * UNITS[p99.group(2)], int(total.group(1)))
