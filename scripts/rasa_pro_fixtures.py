#!/usr/bin/env python3
"""Writes tests/fixtures/rasa-pro-3.21/: CALM conversations real Rasa Pro 3.21 wrote.

    scripts/with-rasa-pro scripts/with-test-mongo scripts/rasa_pro_fixtures.py [--only redis-cluster]

(make rasa-pro-fixtures runs the same.) with-rasa-pro makes .rasa-pro-venv
once; this script re-runs itself with that venv's Python. It trains the small
flows assistant in the fixture folder (config.yml, domain.yml, flows.yml) with
Rasa Pro's Python API (which, unlike the `rasa` CLI and `rasa run`, checks no
licence), loads it in a Rasa Pro Agent, and plays the conversations of
scripts/rasa_pro_conversations.py through Rasa Pro's own tracker stores:
SQLTrackerStore on SQLite and on a scratch PostgreSQL database, RedisTrackerStore
on a scratch redis-server and (deployment_mode: cluster) on a scratch Redis
Cluster, MongoTrackerStore on the MongoDB test server. Then it dumps what each
store holds and what Rasa Pro reads back from it, with the state (slots,
dialogue stack, active flow and step) Rasa Pro's own tracker computes after
every event. The scratch database, servers and Mongo database are removed at
the end.

`--only redis-cluster` plays the same conversations into the cluster alone
and rewrites its dump (redis_cluster_keys.json) only, leaving every other
file as it is. Every conversation is played on one scripted clock with ids
seeded per conversation (Reproducible), so it gets the events the others got;
the dump is written only if Rasa Pro reads back from the cluster what
readback.json holds (in a full run: what it reads back from SQLite, and lists
per user what it lists from the standalone Redis).

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
import contextlib  # noqa: E402
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

from rasa_pro_scratch import RedisServer, pg_admin, postgresql_settings, redis_cluster  # noqa: E402

# Every store a full run writes, in the order the conversations are played into them.
STORES = ("sqlite", "postgresql", "redis", "mongo", "redis-cluster")
# The stores `--only` writes alone: what Rasa Pro reads back from them is checked against readback.json
# and not written there, so their dump is added without rewriting the others' files.
ONLY = {"redis-cluster": "redis_cluster_keys.json"}
REDIS_STORES = ("redis", "redis-cluster")


def main():
    import argparse
    import importlib

    parser = argparse.ArgumentParser(description="Writes tests/fixtures/rasa-pro-3.21/ with real Rasa Pro 3.21.")
    parser.add_argument("--only", choices=sorted(ONLY),
                        help="write only this store's dump; the other fixture files stay as they are")
    only = parser.parse_args().only

    # First: Rasa Pro's own modules import each other in a cycle otherwise.
    importlib.import_module("rasa.core.agent")
    from rasa.utils.log_utils import configure_structlog

    logging.basicConfig(level=logging.WARNING)
    configure_structlog(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="rasa-pro-fixtures-") as scratch:
        # Rasa Pro's training cache goes to ./.rasa/cache unless told otherwise.
        os.environ["RASA_CACHE_DIRECTORY"] = str(Path(scratch) / "cache")
        with flows_read_as_in_fixtures_checkout():
            asyncio.run(write_fixtures(Path(scratch), only))


# Rasa Pro's flow fingerprints, which it stores in the flow_hashes slot of every conversation, hash
# the path each flows file was read from (Flow.as_json keeps its file_path). The fixtures were
# written from a checkout at FIXTURES_CHECKOUT: Rasa Pro is given that path for the flow files of
# this checkout (flows.yml here, its own patterns in .rasa-pro-venv), so that a run from any
# checkout writes the same events.
FIXTURES_CHECKOUT = "/work/h-rasa-pro-fixtures"


@contextlib.contextmanager
def flows_read_as_in_fixtures_checkout():
    from rasa.shared.core.flows.yaml_flows_io import YAMLFlowsReader

    read_from_string = YAMLFlowsReader.__dict__["read_from_string"]
    checkout = f"{REPO}/"

    def as_in_fixtures_checkout(cls, string, add_line_numbers=True, file_path=None):
        if file_path is not None and str(file_path).startswith(checkout):
            file_path = f"{FIXTURES_CHECKOUT}/{str(file_path)[len(checkout):]}"
        return read_from_string.__func__(cls, string, add_line_numbers=add_line_numbers, file_path=file_path)

    YAMLFlowsReader.read_from_string = classmethod(as_in_fixtures_checkout)
    try:
        yield
    finally:
        YAMLFlowsReader.read_from_string = read_from_string


async def write_fixtures(scratch, only=None):
    import rasa_pro_conversations as script
    from rasa.core.config.configuration import Configuration

    replay = Reproducible()
    with replay:
        # The model id, stamped on every event's metadata, is drawn at training.
        replay.rng = random.Random("model")
        model = await train_assistant(scratch)
    Configuration.initialise_empty()
    names = (only,) if only else STORES
    backends = Backends(scratch)
    try:
        stores = backends.open(names)
        call_step = [c for c in script.CONVERSATIONS if c.sender_id == "calm-call-step"]
        prefixed = {name: backends.redis_store(name, key_prefix="tenant42") for name in names if name in REDIS_STORES}
        with replay:
            for name, store in stores.items():
                trained_domain = await play_all(model, store, script.CONVERSATIONS, replay)
                print(f"{name}: {len(script.CONVERSATIONS)} conversations written", flush=True)
            for store in prefixed.values():
                await play_all(model, store, call_step, replay)
        readbacks = {name: await read_back(store, script.CONVERSATIONS) for name, store in stores.items()}
        prefixed = {name: await read_back(store, call_step) for name, store in prefixed.items()}
        if only:
            check_read_back_as_before(only, readbacks[only], prefixed.get(only), **fixture_readback())
        else:
            # The domain as trained: Rasa Pro adds its own slots (language,
            # flow_hashes, session_started_metadata, the patterns' slots with their
            # initial values) and the patterns' responses to domain.yml.
            (OUT / "domain_trained.yml").write_text(trained_domain.as_yaml())
            check_read_back_as_before("redis-cluster", readbacks.pop("redis-cluster"), prefixed["redis-cluster"],
                                      conversations=readbacks["sqlite"]["conversations"],
                                      users=readbacks["redis"]["users"], prefixed=prefixed["redis"])
            write_readbacks(readbacks, prefixed["redis"])
            write_index(script.CONVERSATIONS, readbacks["sqlite"])
        backends.dump(names)
    finally:
        backends.close()


def fixture_readback():
    """What readback.json holds for a Redis store: the conversations, each user's, and the key-prefixed one."""
    written = json.loads((OUT / "readback.json").read_text())
    return {"conversations": written["conversations"], "users": written["users"]["redis"],
            "prefixed": written["redis_key_prefix_tenant42"]}


def check_read_back_as_before(name, readback, prefixed_readback, conversations, users, prefixed):
    """Refuse to write `name`'s dump unless Rasa Pro reads back from it what it read back from the others.

    The same conversations, event for event, with the same state after each; each user's
    conversations listed as from the standalone Redis; the key-prefixed conversation as there.
    """
    # As readback.json holds them: JSON has no tuples.
    readback, prefixed_readback = json.loads(json.dumps([readback, prefixed_readback]))
    differing = sorted(sender_id for sender_id in {*conversations, *readback["conversations"]}
                       if readback["conversations"].get(sender_id) != conversations.get(sender_id))
    if differing:
        raise SystemExit(f"{name}: Rasa Pro reads back other conversations than readback.json holds: "
                         f"{', '.join(map(repr, differing))}. Nothing written for it.")
    if readback["users"] != users:
        raise SystemExit(f"{name}: Rasa Pro lists other conversations per user than from the standalone Redis "
                         f"(readback.json users.redis). Nothing written for it.")
    if prefixed_readback != prefixed:
        raise SystemExit(f"{name}: Rasa Pro reads back another key-prefixed conversation than readback.json's "
                         f"redis_key_prefix_tenant42. Nothing written for it.")
    print(f"{name}: Rasa Pro reads back the {len(conversations)} conversations of readback.json, each user's "
          f"conversations and the key-prefixed one", flush=True)


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
        self.cluster = None
        self._servers = contextlib.ExitStack()  # the cluster's
        self.mongo_url = os.environ.get("TRACKERWEB_TEST_MONGO_URL")
        self.mongo_db = f"rasa_pro_fixtures_{os.getpid()}"
        self.domain = None
        self.opened = ()

    def open(self, names):
        """Rasa Pro's store on each of `names` (of STORES), its database made; the files it
        will write removed first (all generated ones for a full run)."""
        from rasa.shared.core.domain import Domain

        if "mongo" in names and not self.mongo_url:
            raise SystemExit("No MongoDB: run me through scripts/with-test-mongo.")
        self.domain = Domain.load([str(OUT / "domain.yml")])
        if set(names) == set(STORES):
            generated = [*OUT.glob("readback*.json"), *OUT.glob("rasa_pro_*"), *OUT.glob("redis_*.json"),
                         *OUT.glob("mongo_*.json"), OUT / "conversations_index.json", OUT / "domain_trained.yml"]
        else:
            generated = [OUT / ONLY[name] for name in names]
        for path in generated:
            path.unlink(missing_ok=True)
        self.opened = names
        openers = {"sqlite": self._sqlite_store, "postgresql": self._postgresql_store,
                   "redis": self._start_redis, "mongo": self._mongo_store, "redis-cluster": self._start_redis_cluster}
        return {name: openers[name]() for name in names}

    def _sqlite_store(self):
        from rasa.core.tracker_stores.sql_tracker_store import SQLTrackerStore

        return SQLTrackerStore(self.domain, dialect="sqlite", db=str(OUT / "rasa_pro_sqlite.db"))

    def _postgresql_store(self):
        from rasa.core.tracker_stores.sql_tracker_store import SQLTrackerStore

        self._pg_admin(f'CREATE DATABASE "{self.pg_db}"')
        return SQLTrackerStore(self.domain, dialect="postgresql", host=self.pg["host"], port=self.pg["port"],
                               username=self.pg["user"], db=self.pg_db)

    def _mongo_store(self):
        from rasa.core.tracker_stores.mongo_tracker_store import MongoTrackerStore

        return MongoTrackerStore(self.domain, host=self.mongo_url, db=self.mongo_db)

    def redis_store(self, name="redis", key_prefix=None):
        """Rasa Pro's RedisTrackerStore on the scratch redis-server, or (`redis-cluster`) on the scratch
        cluster, as endpoints.yml's deployment_mode: cluster with the nodes under endpoints makes it."""
        from rasa.core.tracker_stores.redis_tracker_store import RedisTrackerStore

        if name == "redis-cluster":
            return RedisTrackerStore(self.domain, deployment_mode="cluster", endpoints=self.cluster.endpoints,
                                     key_prefix=key_prefix)
        return RedisTrackerStore(self.domain, host="127.0.0.1", port=self.redis_port, db=0,
                                 key_prefix=key_prefix)

    def _start_redis(self):
        self.redis = RedisServer(self.scratch)
        self.redis_port = self.redis.port
        return self.redis_store()

    def _start_redis_cluster(self):
        self.cluster = self._servers.enter_context(redis_cluster())
        return self.redis_store("redis-cluster")

    def _pg_admin(self, statement):
        pg_admin(self.pg, statement)

    def dump(self, names):
        dumps = {"postgresql": self._dump_postgresql, "redis": self._dump_redis, "mongo": self._dump_mongo,
                 "redis-cluster": self._dump_redis_cluster}
        for name in names:
            if name in dumps:  # (SQLite's file is the dump)
                dumps[name]()

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
        write_json(OUT / "redis_keys.json", {"keys": redis_entries(client)}, inline_from=2)

    def _dump_redis_cluster(self):
        """Every master's keys, in one list as redis_keys.json's (each key lives on one master), and
        which slots each master serves and how many of the keys it held."""
        keys, masters = [], []
        for master in self.cluster.masters():
            client = master.client(decode_responses=True)
            try:
                held = redis_entries(client)
                ranges = client.execute_command("CLUSTER", "SLOTS")  # [[start, end, [host, port, id, ...], ...]]
            finally:
                client.close()
            slots = [f"{start}-{end}" for start, end, (_, port, *_), *_ in sorted(ranges) if port == master.port]
            keys += held
            masters.append({"slots": ",".join(slots), "keys": len(held)})
        masters.sort(key=lambda master: int(master["slots"].split("-")[0]))
        keys.sort(key=lambda entry: entry["key"])
        write_json(OUT / "redis_cluster_keys.json", {"keys": keys, "masters": masters}, inline_from=2)

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
        self._servers.close()
        if "postgresql" in self.opened:
            try:
                self._pg_admin(f'DROP DATABASE IF EXISTS "{self.pg_db}" WITH (FORCE)')
            except Exception as e:  # noqa: BLE001  (cleanup must not hide the run's own error)
                print(f"Could not drop the scratch database {self.pg_db}: {e}", file=sys.stderr)
        if "mongo" in self.opened:
            from pymongo import MongoClient

            MongoClient(self.mongo_url).drop_database(self.mongo_db)


def redis_entries(client):
    """[{key, type, ttl, value}] of every key of one Redis server, by key."""
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
    return keys


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
    """Play `conversations` into `store` through an Agent of `model`; returns the Agent's domain (as trained)."""
    import rasa_pro_conversations as script
    from rasa.core.agent import Agent

    agent = Agent.load(model, tracker_store=store)
    for conversation in conversations:
        replay.start(conversation, script.CONVERSATIONS.index(conversation))
        await play(agent, store, conversation, replay)
    return agent.domain


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
