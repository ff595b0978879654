"""trackerweb's tracker stores: Rasa's conversation stores, one interface.

    import django; django.setup()
    from stores import load_tracker_store
    store = load_tracker_store()          # the store endpoints.yml configures
    tracker = store.retrieve("some-sender")
"""


def load_tracker_store():
    """The tracker store configured by the active endpoints.yml (one per process)."""
    from .handler import load_tracker_store as load

    return load()


__all__ = ["load_tracker_store"]
