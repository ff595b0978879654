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

# Hashing a password the production way takes a quarter of a second here, and most tests make a user
# (test_permissions alone makes 1,500). The tests check who may do what, not the hash: a fast one,
# with PBKDF2 still known so a hash made by a production-settings process (tests/test_one_step_start.py)
# checks. The processes the tests start (gunicorn, manage.py) keep the production hashers.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", "django.contrib.auth.hashers.PBKDF2PasswordHasher"]

# A test that wants a live indexer starts one (and stops it): none runs behind the others' backs.
TRACKERWEB_LIVE_INDEXING = False
