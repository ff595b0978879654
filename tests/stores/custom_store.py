"""A real custom tracker store, loaded by dotted path as a user's would be.

Keeps each conversation as an NDJSON file in the directory `url` names;
`file_suffix` is an extra endpoints.yml key, passed through as Rasa does.
"""

import hashlib
import json
from pathlib import Path

from stores.base import TrackerStore
from stores.events import dumps


class NDJSONDirectoryTrackerStore(TrackerStore):
    def __init__(self, url, file_suffix=".ndjson"):
        super().__init__()
        self.directory = Path(url)
        self.file_suffix = file_suffix

    def _path(self, sender_id):
        return self.directory / (hashlib.sha256(sender_id.encode()).hexdigest() + self.file_suffix)

    def append(self, sender_id, events):
        self.check_sender_id(sender_id)
        events = self.validated(events)
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self._path(sender_id)
        lines = "" if path.exists() else json.dumps({"sender_id": sender_id}) + "\n"
        lines += "".join(dumps(e, i) + "\n" for i, e in enumerate(events))
        with path.open("a", encoding="utf-8") as f:
            f.write(lines)
        return events

    def retrieve(self, sender_id):
        path = self._path(sender_id)
        if not path.exists():
            return None
        header, *events = path.read_text(encoding="utf-8").splitlines()
        return self.new_tracker(sender_id, [json.loads(e) for e in events], stored=True)

    def keys(self):
        for path in sorted(self.directory.glob("*" + self.file_suffix)):
            with path.open(encoding="utf-8") as f:
                yield json.loads(f.readline())["sender_id"]

    def delete(self, sender_id):
        path = self._path(sender_id)
        existed = path.exists()
        path.unlink(missing_ok=True)
        return existed


class NotAStore:
    def __init__(self, url=None):
        self.url = url
