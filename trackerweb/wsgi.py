import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trackerweb.settings")
application = get_wsgi_application()

# Serve only once the tracker store answers: wait for it a bounded time
# (TRACKERWEB_STORE_STARTUP_TIMEOUT), logging each attempt, then refuse to start.
from stores.availability import wait_for_configured_store  # noqa: E402  (needs the settings above)

wait_for_configured_store()
