#!/usr/bin/env python3
"""Writes tests/fixtures/rasa-pro-3.21/: CALM conversations real Rasa Pro 3.21 wrote.

    scripts/with-rasa-pro scripts/with-test-mongo scripts/rasa_pro_fixtures.py

(make rasa-pro-fixtures runs the same.) with-rasa-pro makes .rasa-pro-venv
once; this script re-runs itself with that venv's Python. It trains the small
flows assistant in the fixture folder (config.yml, domain.yml, flows.yml) with
Rasa Pro's Python API (which, unlike the `rasa` CLI and `rasa run`, checks no
licence), loads it in a Rasa Pro Agent, and plays the conversations of
scripts/rasa_pro_conversations.py through Rasa Pro's own tracker stores:
SQLTrackerStore on SQLite and on a scratch PostgreSQL database, RedisTrackerStore
on a scratch redis-server, MongoTrackerStore on the MongoDB test server. Then it
dumps what each store holds and what Rasa Pro reads back from it, with the
state (slots, dialogue stack, active flow and step) Rasa Pro's own tracker
computes after every event. The scratch database, server and Mongo database
are removed at the end.

Environment: TRACKERWEB_TEST_PG_HOST/PORT/USER/LOGIN_DB as for the tests
(default 127.0.0.1:5432, postgres, test); TRACKERWEB_TEST_MONGO_URL (set by
scripts/with-test-mongo).
"""

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "tests" / "fixtures" / "rasa-pro-3.21"


def _reexec_in_rasa_pro_venv():
    python = os.environ.get("TRACKERWEB_RASA_PRO_PYTHON")
    if not python:
        sys.exit("Run me through scripts/with-rasa-pro (it makes .rasa-pro-venv and names its Python).")
    # A fixed hash seed: Rasa Pro lists the flows in its prompt in set order.
    if Path(sys.prefix).resolve() != Path(python).parent.parent.resolve() or \
            os.environ.get("PYTHONHASHSEED") != "0":
        os.environ["PYTHONHASHSEED"] = "0"
        os.execv(python, [python, *sys.argv])


if __name__ == "__main__":
    _reexec_in_rasa_pro_venv()
    # LiteLLM fetches a price list from GitHub when imported, and Rasa Pro
    # reports telemetry: neither belongs in a fixture run.
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    sys.path.insert(0, str(REPO / "scripts"))

import asyncio  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
import zlib  # noqa: E402
from collections import Counter  # noqa: E402

from rasa_pro_scratch import RedisServer, pg_admin, postgresql_settings  # noqa: E402


def main():
    import importlib

    # First: Rasa Pro's own modules import each other in a cycle otherwise.
    importlib.import_module("rasa.core.agent")
    from rasa.utils.log_utils import configure_structlog

    logging.basicConfig(level=logging.WARNING)
    configure_structlog(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="rasa-pro-fixtures-") as scratch:
        # Rasa Pro's training cache goes to ./.rasa/cache unless told otherwise.
        os.environ["RASA_CACHE_DIRECTORY"] = str(Path(scratch) / "cache")
        asyncio.run(write_fixtures(Path(scratch)))


async def write_fixtures(scratch):
    import rasa_pro_conversations as script
    from rasa.core.config.configuration import Configuration

    replay = Reproducible()
    with replay:
        # The model id, stamped on every event's metadata, is drawn at training.
        replay.rng = random.Random("model")
        model = await train_assistant(scratch)
    Configuration.initialise_empty()
    backends = Backends(scratch)
    try:
        stores = backends.open()
        with replay:
            for name, store in stores.items():
                await play_all(model, store, script.CONVERSATIONS, replay)
                print(f"{name}: {len(script.CONVERSATIONS)} conversations written", flush=True)
            call_step = [c for c in script.CONVERSATIONS if c.sender_id == "calm-call-step"]
            prefixed = backends.redis_store(key_prefix="tenant42")
            await play_all(model, prefixed, call_step, replay)
        backends.dump()
        readbacks = {name: await read_back(store, script.CONVERSATIONS) for name, store in stores.items()}
        write_readbacks(readbacks, await read_back(prefixed, call_step))
        write_index(script.CONVERSATIONS, readbacks["sqlite"])
    finally:
        backends.close()


async def train_assistant(scratch):
    from rasa.model_training import train

    result = await train(
        domain=str(OUT / "domain.yml"),
        config=str(OUT / "config.yml"),
        training_files=[str(OUT / "flows.yml")],
        output=str(scratch / "models"),
        fixed_model_name="fixtures",
    )
    if result.code != 0:
        raise SystemExit(f"Rasa Pro could not train the fixture assistant (code {result.code}).")
    return result.model


# --- the stores ------------------------------------------------------------


class Backends:
    """Rasa Pro's stores on scratch databases, their dumps, and their removal."""

    def __init__(self, scratch):
        self.scratch = scratch
        self.pg = postgresql_settings()
        self.pg_db = f"trackerweb_rasa_pro_fixtures_{os.getpid()}"
        self.redis_port = None
        self.redis = None
        self.mongo_url = os.environ.get("TRACKERWEB_TEST_MONGO_URL")
        self.mongo_db = f"rasa_pro_fixtures_{os.getpid()}"
        self.domain = None

    def open(self):
        from rasa.core.tracker_stores.mongo_tracker_store import MongoTrackerStore
        from rasa.core.tracker_stores.sql_tracker_store import SQLTrackerStore
        from rasa.shared.core.domain import Domain

        if not self.mongo_url:
            raise SystemExit("No MongoDB: run me through scripts/with-test-mongo.")
        self.domain = Domain.load([str(OUT / "domain.yml")])
        for generated in [*OUT.glob("readback*.json"), *OUT.glob("rasa_pro_*"), *OUT.glob("redis_*.json"),
                          *OUT.glob("mongo_*.json"), OUT / "conversations_index.json",
                          OUT / "domain_trained.yml"]:
            generated.unlink(missing_ok=True)
        sqlite_path = OUT / "rasa_pro_sqlite.db"
        self._start_redis()
        self._pg_admin(f'CREATE DATABASE "{self.pg_db}"')
        return {
            "sqlite": SQLTrackerStore(self.domain, dialect="sqlite", db=str(sqlite_path)),
            "postgresql": SQLTrackerStore(self.domain, dialect="postgresql", host=self.pg["host"],
                                          port=self.pg["port"], username=self.pg["user"], db=self.pg_db),
            "redis": self.redis_store(),
            "mongo": MongoTrackerStore(self.domain, host=self.mongo_url, db=self.mongo_db),
        }

    def redis_store(self, key_prefix=None):
        from rasa.core.tracker_stores.redis_tracker_store import RedisTrackerStore

        return RedisTrackerStore(self.domain, host="127.0.0.1", port=self.redis_port, db=0,
                                 key_prefix=key_prefix)

    def _start_redis(self):
        self.redis = RedisServer(self.scratch)
        self.redis_port = self.redis.port

    def _pg_admin(self, statement):
        pg_admin(self.pg, statement)

    def dump(self):
        self._dump_postgresql()
        self._dump_redis()
        self._dump_mongo()

    def _dump_postgresql(self):
        dump = subprocess.run(
            ["pg_dump", "--no-owner", "--no-privileges", "-h", self.pg["host"], "-p", str(self.pg["port"]),
             "-U", self.pg["user"], self.pg_db],
            check=True, capture_output=True, text=True).stdout
        # pg_dump guards the script with a random \restrict key (psql refuses
        # meta-commands until the matching \unrestrict): a fixed key keeps the
        # file the same from run to run.
        key = re.search(r"^\\restrict (\S+)$", dump, re.M)
        if key:
            dump = dump.replace(key.group(1), "trackerwebRasaProFixtures")
        lines = [line for line in dump.splitlines() if not line.startswith("-- Dumped")]
        (OUT / "rasa_pro_pg.sql").write_text("\n".join(lines) + "\n")

    def _dump_redis(self):
        import redis

        client = redis.Redis(port=self.redis_port, decode_responses=True)
        keys = []
        for key in sorted(client.keys("*")):
            kind = client.type(key)
            if kind == "string":
                value = client.get(key)
            elif kind == "zset":
                # Scores are expiry times, +inf for "never": JSON has no
                # infinity, so they are kept as Redis prints them.
                value = [[member, client.zscore(key, member) if client.zscore(key, member) != float("inf")
                          else "inf"] for member in client.zrange(key, 0, -1)]
            else:
                raise SystemExit(f"Rasa Pro wrote a Redis {kind} at {key!r}: teach the dump that type.")
            keys.append({"key": key, "type": kind, "ttl": client.ttl(key), "value": value})
        write_json(OUT / "redis_keys.json", {"keys": keys}, inline_from=2)

    def _dump_mongo(self):
        from bson import json_util
        from pymongo import MongoClient

        client = MongoClient(self.mongo_url)
        collection = client[self.mongo_db]["conversations"]
        documents = list(collection.find({}, sort=[("conversation_started_timestamp", 1), ("sender_id", 1)]))
        for document in documents:
            document.pop("_id")
        # Extended JSON (relaxed), as mongoexport --jsonArray writes it.
        relaxed = json.loads(json_util.dumps(documents, json_options=json_util.RELAXED_JSON_OPTIONS))
        write_json(OUT / "mongo_conversations.json", relaxed, inline_from=3)
        indexes = {name: {k: v for k, v in spec.items() if k != "v"}
                   for name, spec in collection.index_information().items()}
        write_json(OUT / "mongo_indexes.json", indexes)
        client.close()

    def close(self):
        if self.redis is not None:
            self.redis.stop()
        try:
            self._pg_admin(f'DROP DATABASE IF EXISTS "{self.pg_db}" WITH (FORCE)')
        except Exception as e:  # noqa: BLE001  (cleanup must not hide the run's own error)
            print(f"Could not drop the scratch database {self.pg_db}: {e}", file=sys.stderr)
        if self.mongo_url:
            from pymongo import MongoClient

            MongoClient(self.mongo_url).drop_database(self.mongo_db)


# --- one timeline for every store -----------------------------------------

# Monday 5 October 2026, 08:00 UTC: Rasa Pro 3.21 came out that month.
TIMELINE_START = 1790928000.0
# Rasa Pro's own code reads the clock many times a turn; each read moves it on
# by this much, so its events keep distinct, increasing timestamps.
CLOCK_TICK = 0.0005
STORE_MODULES = "rasa.core.tracker_stores."


class Reproducible:
    """Every store receives the same conversations, event for event.

    Rasa Pro stamps events with time.time() and draws frame ids, session ids
    and message ids at random. Inside this context its own modules read a
    clock the script sets (each conversation starts at its own hour of a
    six-day timeline; users pause between messages), and the ids come from a
    generator seeded by the conversation: the engine runs unchanged, but the
    four stores get identical events, so one readback serves them all and a
    re-run rewrites the same files. Libraries other than Rasa Pro read the
    same clock without moving it.
    """

    def __init__(self):
        self.now = TIMELINE_START
        self.rng = random.Random(0)

    def __enter__(self):
        import rasa.shared.utils.datetime_utils as datetime_utils

        self._saved = (time.time, time.time_ns, uuid.uuid4, datetime_utils.get_current_datetime)
        time.time, time.time_ns, uuid.uuid4 = self._time, self._time_ns, self._uuid4
        # The date and time the command generator writes into its prompt.
        datetime_utils.get_current_datetime = self._current_datetime
        return self

    def __exit__(self, *exc):
        import rasa.shared.utils.datetime_utils as datetime_utils

        time.time, time.time_ns, uuid.uuid4, datetime_utils.get_current_datetime = self._saved
        self._saved = None

    def _current_datetime(self, timezone):
        from datetime import datetime
        from zoneinfo import ZoneInfo

        return datetime.fromtimestamp(self.now, ZoneInfo(timezone))

    @staticmethod
    def _moves_clock():
        """Whether Rasa Pro's engine (not a library, not a tracker store) read the clock.

        The stores rebuild trackers as they load and save, and each rebuild
        stamps throw-away events; each store does that its own number of times,
        so their reads must not move the clock.
        """
        frame = sys._getframe(2)
        if not frame.f_globals.get("__name__", "").startswith("rasa"):
            return False
        while frame is not None:
            if frame.f_globals.get("__name__", "").startswith(STORE_MODULES):
                return False
            frame = frame.f_back
        return True

    def _time(self):
        if self._moves_clock():
            self.now += CLOCK_TICK
        return self.now

    def _time_ns(self):
        if self._moves_clock():
            self.now += CLOCK_TICK
        return int(self.now * 1e9)

    def _uuid4(self):
        if not self._moves_clock():
            return self._saved[2]()
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    def start(self, conversation, position):
        import numpy
        import rasa.shared.core.event_identity as event_identity
        import rasa.shared.utils.io as rasa_io

        seed = zlib.crc32(conversation.sender_id.encode())
        self.rng = random.Random(seed)
        rasa_io.random = self.rng  # stack frame ids
        event_identity.secrets = self  # Mantle event ids (randbits)
        numpy.random.seed(seed)  # the response variation Rasa Pro's NLG picks
        self.now = TIMELINE_START + position * 7 * 3600

    def randbits(self, bits):
        return self.rng.getrandbits(bits)

    def pause_before(self, step):
        text = getattr(step, "text", "") or ""
        self.pause(4 + len(text) % 17)

    def pause(self, seconds):
        self.now += seconds


# --- playing the conversations -------------------------------------------


async def play_all(model, store, conversations, replay):
    import rasa_pro_conversations as script
    from rasa.core.agent import Agent

    agent = Agent.load(model, tracker_store=store)
    # The domain as trained: Rasa Pro adds its own slots (language,
    # flow_hashes, session_started_metadata, the patterns' slots with their
    # initial values) and the patterns' responses to domain.yml.
    (OUT / "domain_trained.yml").write_text(agent.domain.as_yaml())
    for conversation in conversations:
        replay.start(conversation, script.CONVERSATIONS.index(conversation))
        await play(agent, store, conversation, replay)


async def play(agent, store, conversation, replay):
    import rasa_pro_conversations as script
    from rasa.dialogue_understanding.utils import set_record_commands_and_prompts
    from rasa.shared.engine_version import MANTLE_ENGINE_VERSION

    calm_engine = store.engine_version
    if conversation.contract == "mantle":
        # What a Mantle model's Agent sets on its store: the store then writes
        # ProtoJSON wherever Rasa Pro has a mapping for the event.
        store.engine_version = MANTLE_ENGINE_VERSION
        store.use_permissive_slots = conversation.produced_by == "event classes"
    try:
        for step in conversation.steps:
            replay.pause_before(step)
            if isinstance(step, script.Say):
                if conversation.record_prompts:
                    with set_record_commands_and_prompts():
                        await say(agent, conversation, step.text, step.llm)
                else:
                    await say(agent, conversation, step.text, step.llm)
            elif isinstance(step, script.Voice):
                await voice(agent, conversation, step)
            elif isinstance(step, script.Record):
                tracker = await agent.processor.get_tracker(conversation.sender_id, conversation.user_id)
                for event in resolve(tracker, step.make(tracker), replay):
                    await agent.processor.record_event_on_tracker(tracker, event)
            elif isinstance(step, script.Turn):
                await mantle_turn(store, conversation, step, replay)
            else:
                raise TypeError(step)
        if conversation.then_mantle:
            store.engine_version = MANTLE_ENGINE_VERSION
            store.use_permissive_slots = True
            replay.pause(3 * 24 * 3600)  # the upgrade ships a few days later
            for step in conversation.then_mantle():
                replay.pause_before(step)
                await mantle_turn(store, conversation, step, replay)
    finally:
        store.engine_version = calm_engine
        store.use_permissive_slots = False


def resolve(tracker, items, replay):
    """Events from a step's items; ("stack", change) becomes Rasa Pro's stack patch.

    Each event is stamped as it is emitted, in order, as the engine would; the
    step built its events before the stack patches between them.
    """
    for item in items:
        if isinstance(item, tuple):
            _, change = item
            stack = change(tracker.stack) if callable(change) else change
            events = tracker.create_stack_updated_events(stack)
        else:
            events = [item]
        for event in events:
            replay.pause(CLOCK_TICK)
            event.timestamp = replay.now
            yield event


async def say(agent, conversation, text, answer):
    import rasa_pro_conversations as script
    import rasa_pro_scripted_llm as llm
    from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

    queue_answer(llm, script, answer)
    metadata = {"user_id": conversation.user_id} if conversation.user_id else None
    await agent.handle_message(UserMessage(text, CollectingOutputChannel(), conversation.sender_id,
                                           input_channel=conversation.input_channel, metadata=metadata))
    check_answer_used(llm, conversation, text)


def queue_answer(llm, script, answer):
    llm.scripted_answers.clear()
    if answer is script.LLM_DOWN:
        llm.scripted_answers.append(llm.LLM_DOWN)
    elif answer is not None:
        llm.scripted_answers.append(answer)


def check_answer_used(llm, conversation, text):
    if llm.unexpected_calls:
        raise SystemExit(f"{conversation.sender_id!r}: Rasa Pro asked the LLM about {text!r}, "
                         "but the script gave no answer for it.")
    if llm.scripted_answers:
        raise SystemExit(f"{conversation.sender_id!r}: Rasa Pro did not ask the LLM for {text!r}, "
                         "but the script gave it an answer: the engine took another path.")


async def voice(agent, conversation, step):
    import rasa_pro_conversations as script
    import rasa_pro_scripted_llm as llm
    from rasa.core.channels.channel import CollectingOutputChannel
    from rasa.core.voice.event_composition.events import composite_events as voice_events

    metadata = dict(step.metadata)
    if conversation.user_id:
        metadata["user_id"] = conversation.user_id
    event = {
        "barge_in": lambda: voice_events.BargeInInteractionEvent(metadata=metadata),
        "suppressed": lambda: voice_events.UserInputSuppressedInteractionEvent(
            text=step.text, modality="audio", reason="bot_speaking", metadata=metadata),
        "silence": lambda: voice_events.SilenceTimeoutInteractionEvent(timeout=7.0, metadata=metadata),
        "transcript": lambda: voice_events.UserTranscript(text=step.text, metadata=metadata),
        "session_start": lambda: voice_events.SessionStartedInteractionEvent(metadata=metadata),
    }[step.kind]()
    queue_answer(llm, script, step.llm)
    await agent.processor._handle_voice_input_event(event, CollectingOutputChannel(), conversation.sender_id,
                                                    conversation.input_channel)
    check_answer_used(llm, conversation, step.kind)


async def mantle_turn(store, conversation, step, replay):
    """One Mantle turn: the stored tracker, the turn's events, saved through the store."""
    tracker = await store.get_or_create_tracker(conversation.sender_id, append_action_listen=False,
                                                user_id=conversation.user_id)
    if tracker.user_id is None:
        tracker.user_id = conversation.user_id
    for event in resolve(tracker, step.make(tracker), replay):
        tracker.update(event)
    await store.save(tracker)


# --- what Rasa Pro reads back --------------------------------------------


async def read_back(store, conversations):
    """Per conversation: the events Rasa Pro's store returns and the state after each."""
    readback = {"conversations": {}, "users": {}}
    for conversation in conversations:
        slots_from = "permissive" if conversation.produced_by == "event classes" and \
            conversation.contract == "mantle" or conversation.then_mantle else "domain"
        store.use_permissive_slots = slots_from == "permissive"
        try:
            full = await store.retrieve_full_tracker(conversation.sender_id)
            last = await store.retrieve(conversation.sender_id)
        finally:
            store.use_permissive_slots = False
        events = [event.as_dict() for event in full.events]
        last_events = [event.as_dict() for event in last.events]
        readback["conversations"][conversation.sender_id] = {
            "user_id": full.user_id,
            "slots_from": slots_from,
            "events": events,
            "last_session_from": suffix_start(events, last_events),
            **states_after_each_event(store, full, slots_from),
        }
    for user_id in sorted({c.user_id for c in conversations if c.user_id}):
        listed = await store.get_serialized_trackers_by_user_id(user_id)
        readback["users"][user_id] = [
            {"sender_id": t["sender_id"], "conversation_started_timestamp": t["conversation_started_timestamp"],
             "current_session_id": t["current_session_id"], "events": len(t["events"])}
            for t in listed]
    return readback


def suffix_start(events, last_events):
    start = len(events) - len(last_events)
    if start < 0 or events[start:] != last_events:
        raise SystemExit("Rasa Pro's latest session is not a suffix of the full history: "
                         "record it whole in the readback.")
    return start


def states_after_each_event(store, full, slots_from):
    """Slots, dialogue stack, active flow and step after each event, from Rasa Pro's tracker.

    Each event is replayed (as from_dict does: is_replay) onto a fresh tracker
    with copies of the read-back events, so the read-back ones stay untouched.
    Two tracks, each listing a state from the event that made it ("from_event",
    an index into the events) until the next entry: "slots" (the values that
    are not None; a slot missing is None) and "stack" (the frames, with the
    active flow and step Rasa Pro derives from the top frame).
    """
    from rasa.shared.core.events import deserialise_events
    from rasa.shared.core.trackers import DialogueStateTracker

    slots = None if slots_from == "permissive" else store.domain.slots
    tracker = DialogueStateTracker(full.sender_id, slots)
    copies = deserialise_events([event.as_dict() for event in full.events])
    if len(copies) != len(full.events):
        raise SystemExit(f"{full.sender_id!r}: Rasa Pro could not re-read its own events.")
    tracks = {"slots": [], "stack": []}
    for position, event in enumerate(copies):
        tracker.update(event, is_replay=True)
        now = {
            "slots": {"slots": {name: value for name, value in tracker.current_slot_values().items()
                                if value is not None}},
            "stack": {"stack": tracker.stack.as_dict(), "active_flow": tracker.active_flow,
                      "step_id": tracker.current_step_id},
        }
        for name, state in now.items():
            track = tracks[name]
            if not track or {k: v for k, v in track[-1].items() if k != "from_event"} != state:
                track.append({"from_event": position, **state})
    return tracks


# --- the index and README facts ------------------------------------------


def write_readbacks(readbacks, prefixed):
    """readback.json: what Rasa Pro reads back; conversations once if every store agrees.

    The stores got identical events (see Reproducible), and Rasa Pro reads
    them back identically from each; a store that reads back otherwise gets
    readback_<store>.json with its own conversations. Users are listed per
    store: the stores keep different conversation_started_timestamps.
    """
    reference = readbacks["sqlite"]["conversations"]
    agree = [name for name, readback in readbacks.items() if readback["conversations"] == reference]
    write_json(OUT / "readback.json", {
        "conversations_read_back_the_same_by": agree,
        "conversations": reference,
        "users": {name: readback["users"] for name, readback in readbacks.items()},
        "redis_key_prefix_tenant42": prefixed,
    }, inline_from=4)
    for name, readback in readbacks.items():
        if name not in agree:
            print(f"{name}: Rasa Pro reads back other conversations than from SQLite: readback_{name}.json",
                  flush=True)
            write_json(OUT / f"readback_{name}.json", {"conversations": readback["conversations"]},
                       inline_from=4)


def write_index(conversations, sqlite_readback):
    index = []
    sqlite = sqlite_readback["conversations"]
    for conversation in conversations:
        events = sqlite[conversation.sender_id]["events"]
        stored = stored_shapes(conversation.sender_id)
        index.append({
            "sender_id": conversation.sender_id,
            "user_id": conversation.user_id,
            "exercises": conversation.exercises,
            "produced_by": conversation.produced_by,
            "store_contract": conversation.contract if not conversation.then_mantle else "classic, then mantle",
            "input_channel": conversation.input_channel,
            "event_types": dict(sorted(Counter(e["event"] for e in events).items())),
            "stored_as": stored,
            "flows_started": sorted({e["flow_id"] for e in events if e["event"] == "flow_started"}),
            "commands": sorted({c["command"] for e in events if e["event"] == "user"
                                for c in e.get("parse_data", {}).get("commands", [])}),
        })
    write_json(OUT / "conversations_index.json", index)


def stored_shapes(sender_id):
    """How many of the conversation's SQLite rows hold each contract."""
    import sqlite3

    connection = sqlite3.connect(OUT / "rasa_pro_sqlite.db")
    try:
        rows = connection.execute("SELECT data FROM events WHERE sender_id = ? ORDER BY id", (sender_id,))
        shapes = Counter("classic" if "event" in json.loads(data) else "protojson" for (data,) in rows)
    finally:
        connection.close()
    return dict(sorted(shapes.items()))


def write_json(path, value, inline_from=2):
    """JSON with one line per item from depth `inline_from` on: small, and diffable."""
    path.write_text(_json_lines(value, 0, inline_from) + "\n")


def _json_lines(value, depth, inline_from):
    if depth >= inline_from or not isinstance(value, (dict, list)) or not value:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    pad = " " * (depth + 1)
    if isinstance(value, dict):
        items = [f"{pad}{json.dumps(k, ensure_ascii=False)}: {_json_lines(v, depth + 1, inline_from)}"
                 for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + " " * depth + "}"
    items = [pad + _json_lines(v, depth + 1, inline_from) for v in value]
    return "[\n" + ",\n".join(items) + "\n" + " " * depth + "]"


if __name__ == "__main__":
    main()
