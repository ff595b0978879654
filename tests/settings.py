"""Settings for the test suite: trackerweb's settings, with a test endpoints.yml (in-memory store)."""

import os
from pathlib import Path

os.environ["TRACKERWEB_ENDPOINTS"] = str(Path(__file__).resolve().parent / "endpoints.yml")
os.environ.setdefault("DJANGO_SECRET_KEY", "tests-only-not-secret")

from trackerweb.settings import *  # noqa: E402,F401,F403

# A file, not SQLite's in-memory database, for the test database: the live
# server of the browser tests runs in another thread and needs its own connection.
DATABASES["default"]["TEST"] = {"NAME": os.path.join(os.environ.get("TMPDIR", "/tmp"), f"trackerweb-test-{os.getpid()}.sqlite3")}

# The tests render pages without `collectstatic`: static files keep their plain
# names and the test servers serve them from static/ (tests/test_serving.py
# runs the production setup, WhiteNoise and hashed names, in gunicorn).
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
MIDDLEWARE = [name for name in MIDDLEWARE if name != "whitenoise.middleware.WhiteNoiseMiddleware"]
