"""The NLU inbox over 10,000 user messages: the goal is grouping them in under a second.

1,000 conversations of 10 user turns each (40,000 events, 10,000 user messages, about a third of them
unsure) are loaded into SQLite through the store; 500 messages are annotated in trackerweb's own
(scratch) database. Then the median time of: grouping the 10,000 messages alone (training.inbox.grouped,
given every message), the whole inbox selector (reading every conversation from the store and the
annotations, choosing the unsure messages, grouping them), and the inbox page rendered by its view.
`--write FILE` puts the table into that Markdown file between its `inbox` markers.
"""

import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "trackerweb.settings")
os.environ.setdefault("TRACKERWEB_ENDPOINTS", os.devnull)
# Annotations go to a scratch database of trackerweb's own, never the user's.
os.environ.setdefault("TRACKERWEB_DATABASE", str(Path(tempfile.mkdtemp(prefix="trackerweb-bench-")) / "bench.sqlite3"))

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402

from bench.write_path import bench_main  # noqa: E402
from review.models import sender_hash, store_key  # noqa: E402
from stores.backends.sql import SQLTrackerStore  # noqa: E402
from stores.query import ConversationFilter  # noqa: E402
from training.inbox import inbox_groups, inbox_messages, grouped  # noqa: E402
from training.models import Annotation  # noqa: E402

CONVERSATIONS = 1_000
TURNS = 10
ANNOTATED = 500
RUNS = 5
START = 1_735_689_600.0  # 2025-01-01
INTENTS = ["greet", "goodbye", "affirm", "deny", "inform", "order_pizza", "book_flight", "chitchat", "nlu_fallback"]
WORDS = ["pizza", "table", "tonight", "berlin", "flight", "weather", "thanks", "maybe", "booking", "please",
         "friends", "later", "refund", "delivery", "vegan", "spicy"]


def generate(seed=7):
    """{sender id: events}: texts from a few hundred phrasings, in varying case and spacing."""
    rng = random.Random(seed)
    phrases = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 5))) for _ in range(400)]
    data = {}
    for number in range(CONVERSATIONS):
        t, events = START + number * 600, []
        for turn in range(TURNS):
            text = rng.choice(phrases)
            text = text.upper() if rng.random() < 0.1 else text
            text = f"  {text} " if rng.random() < 0.1 else text
            events += [{"event": "user", "timestamp": t, "text": text, "parse_data": {
                           "intent": {"name": rng.choice(INTENTS), "confidence": round(rng.random() ** 0.5, 3)},
                           "entities": [], "text": text}},
                       {"event": "action", "timestamp": t + 1, "name": "utter_answer"},
                       {"event": "bot", "timestamp": t + 2, "text": "Sure."},
                       {"event": "action", "timestamp": t + 3, "name": "action_listen"}]
            t += 10
        data[f"user-{number:05d}"] = events
    return data


def median_ms(action):
    samples = []
    for _ in range(RUNS):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


def inbox_page_renderer(store):
    """The inbox page, rendered by its view on the server (no network, no browser)."""
    from django.contrib.auth.models import User
    from django.test import RequestFactory

    from stores.handler import set_tracker_store
    from trackerweb.dashboard.inbox import inbox

    set_tracker_store(store)
    request = RequestFactory().get("/inbox/")
    request.user, _ = User.objects.get_or_create(username="bench", defaults={"is_superuser": True})

    def render():
        response = inbox(request)
        assert response.status_code == 200, response.status_code
    return render


def run():
    data = generate()
    call_command("migrate", database="default", verbosity=0)
    with tempfile.TemporaryDirectory() as workdir:
        store = SQLTrackerStore(db=str(Path(workdir) / "inbox.db"))
        for sender_id, events in data.items():
            store.append(sender_id, events)
        store.follow_outside_writes()  # what a web process's catch-up does: the summaries' watermark is current
        key = store_key(store)
        Annotation.objects.bulk_create(
            Annotation(store_key=key, sender_hash=sender_hash(sender_id), sender_id=sender_id, event_index=index,
                       text=data[sender_id][index]["text"], correct=True, author_name="bench")
            for sender_id, index in random.Random(3).sample(
                [(s, i) for s in data for i in range(0, TURNS * 4, 4)], ANNOTATED))
        flt = ConversationFilter()
        every = list(inbox_messages(store=store, flt=flt, everything=True))
        assert len(every) == CONVERSATIONS * TURNS, len(every)
        groups = inbox_groups(store=store, flt=flt)
        unsure = sum(group.count for group in groups)
        rows = [(f"grouping {len(every):,} messages (given)", len(grouped(every)), median_ms(lambda: grouped(every))),
                (f"the inbox: reading {CONVERSATIONS:,} conversations from SQLite, choosing, grouping ({unsure:,} "
                 f"unsure)", len(groups), median_ms(lambda: inbox_groups(store=store, flt=flt))),
                ("the inbox page (its view, first 25 groups)", len(groups), median_ms(inbox_page_renderer(store)))]
    return rows


def table(rows):
    lines = [f"{CONVERSATIONS:,} conversations × {TURNS} user turns = {CONVERSATIONS * TURNS:,} user messages "
             f"({CONVERSATIONS * TURNS * 4:,} events) in SQLite, {ANNOTATED} annotated; median of {RUNS} runs.", "",
             "| what | groups | time (ms) |", "|---|---:|---:|"]
    lines += [f"| {what} | {groups:,} | {ms:.0f} |" for what, groups, ms in rows]
    return "\n".join(lines)


def main():
    bench_main(__doc__, lambda: table(run()), "inbox")


if __name__ == "__main__":
    main()
