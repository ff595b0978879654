"""trackerweb's WSGI application, counting every password it checks: for servers the login tests start.

Each check, wrong or leading to a login, adds one to the Redis key `password-checks` at
TRACKERWEB_TEST_PASSWORD_CHECKS (a redis:// URL): one count for all the
server's workers and threads, read by the test from outside.
"""

import os

import redis
from django.contrib.auth.signals import user_logged_in, user_login_failed

from trackerweb.wsgi import application  # noqa: F401  (what gunicorn serves)

counter = redis.Redis.from_url(os.environ["TRACKERWEB_TEST_PASSWORD_CHECKS"])


def count_password_check(**kwargs):
    counter.incr("password-checks")


# A wrong password makes authenticate() send user_login_failed; a right one logs in (user_logged_in).
user_login_failed.connect(count_password_check, weak=False)
user_logged_in.connect(count_password_check, weak=False)
