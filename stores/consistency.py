"""Reading one's own writes where reads may go to a replica.

A store that reads from replicas (the SQL store with `read_url:`) raises,
after each write, the position its reads in this context must have seen
(`wrote`); a read then passes over a replica that has not replayed up to it
(`required`). Positions are whole numbers (PostgreSQL's WAL position).

A context is a thread's run, or a web request: trackerweb's middleware
(trackerweb/read_your_writes.py) starts each request with the position the
user's last write reached (from a cookie, `begin`) and keeps the new one
for their next request (`end`), so that the page after an edit shows it.
"""

import contextvars

_required = contextvars.ContextVar("trackerweb_required_position", default=None)
_wrote = contextvars.ContextVar("trackerweb_wrote", default=False)


def required():
    """The position reads in this context must have seen, or None."""
    return _required.get()


def wrote(position):
    """A write in this context reached `position`: later reads here must see it."""
    current = _required.get()
    if current is None or position > current:
        _required.set(position)
    _wrote.set(True)


def begin(position=None):
    """Start a context (a request) whose reads must have seen `position` (None: any). Returns a token for `end`."""
    return _required.set(position), _wrote.set(False)


def end(tokens):
    """End the context `begin` started: the position its writes reached (None if it wrote nothing)."""
    position, did_write = _required.get(), _wrote.get()
    required_token, wrote_token = tokens
    _required.reset(required_token)
    _wrote.reset(wrote_token)
    return position if did_write else None
