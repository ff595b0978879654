import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trackerweb.settings")
application = get_asgi_application()

# As in wsgi.py: serve only once the tracker store answers, waiting a bounded, logged time.
from stores.availability import wait_for_configured_store  # noqa: E402  (needs the settings above)

wait_for_configured_store()
