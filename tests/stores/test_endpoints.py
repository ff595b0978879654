"""endpoints.yml as Rasa users write it: each type, each parameter, each mistake."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from stores import load_tracker_store
from stores.backends.memory import InMemoryTrackerStore
from stores.backends.sql import SQLTrackerStore
from stores.exceptions import ConfigurationError
from stores.handler import create_from_endpoints, create_tracker_store
from tests.stores.custom_store import NDJSONDirectoryTrackerStore

REPO = Path(__file__).resolve().parents[2]


def build(yaml_text, tmp_path, name="endpoints.yml"):
    path = tmp_path / name
    path.write_text(yaml_text)
    return create_from_endpoints(path)


def error_of(yaml_text, tmp_path):
    with pytest.raises(ConfigurationError) as caught:
        build(yaml_text, tmp_path)
    return caught.value


@pytest.mark.parametrize("text", ["", "# nothing\n", "action_endpoint:\n  url: http://x/webhook\n",
                                  "tracker_store:\n"])
def test_it_uses_the_in_memory_store_when_no_type_is_given(tmp_path, text):
    assert isinstance(build(text, tmp_path), InMemoryTrackerStore)


def test_a_missing_default_endpoints_file_means_the_in_memory_store(tmp_path):
    assert isinstance(create_from_endpoints(tmp_path / "absent.yml", required=False), InMemoryTrackerStore)


def test_a_missing_named_endpoints_file_is_an_error(tmp_path):
    with pytest.raises(ConfigurationError, match="does not exist") as caught:
        create_from_endpoints(tmp_path / "absent.yml", required=True)
    assert caught.value.check_id == "stores.E001"


@pytest.mark.parametrize("type_name", ["SQL", "sql", "Sql"])
def test_type_sql_is_the_sql_store_with_rasas_defaults(tmp_path, monkeypatch, type_name):
    monkeypatch.chdir(tmp_path)
    store = build(f"tracker_store:\n  type: {type_name}\n", tmp_path)
    assert isinstance(store, SQLTrackerStore)
    assert store.settings_dict["ENGINE"] == "django.db.backends.sqlite3"
    assert store.settings_dict["NAME"] == str(tmp_path / "rasa.db")


def test_every_sql_parameter_is_honoured(tmp_path):
    store = build(
        "tracker_store:\n  type: SQL\n  dialect: postgresql\n  url: db.example.org\n  port: 5433\n"
        "  db: bot\n  username: rasa\n  password: pw\n  login_db: postgres\n"
        "  query:\n    sslmode: require\n    connect_timeout: 3\n",
        tmp_path,
    )
    assert store.settings_dict == {
        "ENGINE": "django.db.backends.postgresql", "NAME": "bot", "HOST": "db.example.org", "PORT": "5433",
        "USER": "rasa", "PASSWORD": "pw", "OPTIONS": {"sslmode": "require", "connect_timeout": 3},
        "CONN_MAX_AGE": 60, "CONN_HEALTH_CHECKS": True,
    }
    assert store.login_db == "postgres"


def test_a_port_in_the_url_wins_as_in_rasa(tmp_path):
    store = build("tracker_store:\n  type: SQL\n  dialect: postgresql\n  url: dbhost:6543\n  port: 5432\n", tmp_path)
    assert (store.settings_dict["HOST"], store.settings_dict["PORT"]) == ("dbhost", "6543")


def test_a_full_database_url_decides_everything(tmp_path):
    store = build(
        "tracker_store:\n  type: SQL\n  url: postgresql+psycopg2://bot%40x:p%40ss@pg.local:5544/convs?sslmode=verify-full\n",
        tmp_path,
    )
    assert store.settings_dict == {
        "ENGINE": "django.db.backends.postgresql", "NAME": "convs", "HOST": "pg.local", "PORT": "5544",
        "USER": "bot@x", "PASSWORD": "p@ss", "OPTIONS": {"sslmode": "verify-full"},
        "CONN_MAX_AGE": 60, "CONN_HEALTH_CHECKS": True,
    }


def test_a_sqlite_url_names_the_file(tmp_path):
    store = build(f"tracker_store:\n  type: SQL\n  url: sqlite:///{tmp_path}/bot.db\n", tmp_path)
    assert store.settings_dict["NAME"] == f"{tmp_path}/bot.db"


def test_an_event_broker_section_gives_the_store_its_broker(tmp_path):
    from stores.brokers import PikaEventBroker

    store = build("tracker_store:\n  type: SQL\n  db: x.db\nevent_broker:\n  type: pika\n  url: localhost\n", tmp_path)
    assert isinstance(store.event_broker, PikaEventBroker)
    assert store.event_broker.rabbitmq.host == "localhost"


def test_environment_variables_are_interpolated(tmp_path, monkeypatch):
    monkeypatch.setenv("BOT_DB_USER", "rasa_user")
    monkeypatch.setenv("BOT_DB_PORT", "6000")
    store = build("tracker_store:\n  type: SQL\n  dialect: postgresql\n  username: ${BOT_DB_USER}\n"
                  "  port: ${BOT_DB_PORT}\n  db: db_${BOT_DB_USER}_x\n", tmp_path)
    assert store.settings_dict["USER"] == "rasa_user"
    assert store.settings_dict["PORT"] == "6000"
    assert store.settings_dict["NAME"] == "db_rasa_user_x"


def test_a_missing_environment_variable_is_an_error_naming_it(tmp_path, monkeypatch):
    monkeypatch.delenv("TW_UNSET_VARIABLE", raising=False)
    error = error_of("tracker_store:\n  type: SQL\n  password: ${TW_UNSET_VARIABLE}\n", tmp_path)
    assert error.check_id == "stores.E006"
    assert "TW_UNSET_VARIABLE" in str(error) and "tracker_store.password" in str(error)


def test_a_custom_store_by_dotted_path_gets_url_and_the_other_keys(tmp_path):
    store = build(
        f"tracker_store:\n  type: tests.stores.custom_store.NDJSONDirectoryTrackerStore\n"
        f"  url: {tmp_path / 'convs'}\n  file_suffix: .jsonl\n",
        tmp_path,
    )
    assert isinstance(store, NDJSONDirectoryTrackerStore)
    assert store.directory == tmp_path / "convs" and store.file_suffix == ".jsonl"
    store.append("a/b", [{"event": "pause", "timestamp": 1.0}])
    tracker = store.retrieve("a/b")
    tracker.update({"event": "resume", "timestamp": 2.0})
    store.save(tracker)
    assert store.retrieve("a/b").events == [{"event": "pause", "timestamp": 1.0}, {"event": "resume", "timestamp": 2.0}]
    assert list(store.keys()) == ["a/b"] and store.count() == 1 and store.exists("a/b")


@pytest.mark.parametrize(
    "text, check_id, words",
    [
        ("tracker_store:\n  type: dynamo\n", "stores.E002", "tracker_store type 'dynamo' (Rasa's DynamoDB tracker store) is not supported"),
        ("tracker_store:\n  type: 5\n", "stores.E002", "must be a name or a dotted path"),
        ("tracker_store:\n  type: no_such.module.Store\n", "stores.E002", "can't import no_such.module.Store"),
        ("tracker_store:\n  type: tests.stores.custom_store.Missing\n", "stores.E002", "can't import"),
        ("tracker_store:\n  type: tests.stores.custom_store.NotAStore\n", "stores.E003", "not a subclass"),
        ("tracker_store:\n  type: SQL\n  hostname: x\n", "stores.E004", "unknown parameter hostname"),
        ("tracker_store:\n  type: tests.stores.custom_store.NDJSONDirectoryTrackerStore\n  url: x\n  colour: red\n",
         "stores.E004", "unknown parameter colour"),
        ("tracker_store:\n  colour: red\n", "stores.E004", "unknown parameter colour"),
        ("tracker_store:\n  type: SQL\n  dialect: postgresql\n  port: abc\n", "stores.E005", "port must be a whole number"),
        ("tracker_store:\n  type: SQL\n  dialect: postgresql\n  port: 70000\n", "stores.E005", "port must be a whole number from 1 to 65535"),
        ("tracker_store:\n  type: SQL\n  dialect: access\n", "stores.E005", "'access' is not supported"),
        ("tracker_store:\n  type: SQL\n  query: sslmode=require\n", "stores.E005", "query must be a mapping"),
        ("tracker_store:\n  type: SQL\n  db: [a, b]\n", "stores.E005", "db must be a string"),
        ("tracker_store:\n  type: SQL\n  login_db: postgres\n", "stores.E005", "only supported with the postgresql"),
        ("tracker_store: [SQL]\n", "stores.E001", "must be a mapping of parameters"),
        ("- just a list\n", "stores.E001", "must be a mapping of sections"),
        ("tracker_store:\n  type: SQL\n   bad: indent\n", "stores.E001", "not valid YAML"),
    ],
)
def test_each_configuration_mistake_is_a_clear_error(tmp_path, text, check_id, words):
    error = error_of(text, tmp_path)
    assert error.check_id == check_id
    assert words in str(error)


def test_the_system_check_reports_a_bad_endpoints_file_by_id(endpoints_file):
    endpoints_file("tracker_store:\n  type: mongoo_db\n")
    with pytest.raises(SystemCheckError, match=r"stores\.E002.*mongoo_db"):
        call_command("check")


def test_the_system_check_passes_a_good_endpoints_file(endpoints_file):
    endpoints_file("tracker_store:\n  type: SQL\n  db: fine.db\n")
    call_command("check")


def test_load_tracker_store_returns_the_configured_store_once_per_process(endpoints_file, tmp_path):
    endpoints_file(f"tracker_store:\n  type: SQL\n  db: {tmp_path / 'x.db'}\n")
    store = load_tracker_store()
    assert isinstance(store, SQLTrackerStore)
    assert load_tracker_store() is store


def test_a_domain_beside_endpoints_gives_rasas_slots(endpoints_file, tmp_path):
    (tmp_path / "domain.yml").write_text("version: '3.1'\nslots:\n  city:\n    type: text\n    initial_value: Oslo\n")
    endpoints_file("")
    store = load_tracker_store()
    store.append("x", [{"event": "pause", "timestamp": 1.0}])
    assert store.retrieve("x").slots == {"city": "Oslo", "session_started_metadata": None}


def run_manage(*args, env_extra=None, cwd=REPO, tmp_path=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRACKERWEB_", "DJANGO_"))}
    env["TRACKERWEB_DATABASE"] = str(tmp_path / "default.sqlite3")
    env.update(env_extra or {})
    return subprocess.run([sys.executable, str(REPO / "manage.py"), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def test_manage_py_takes_endpoints_and_fails_start_up_on_a_bad_one(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("tracker_store:\n  type: SQL\n  prot: 5432\n")
    result = run_manage("check", "--endpoints", str(bad), tmp_path=tmp_path)
    assert result.returncode != 0
    assert "stores.E004" in result.stderr and "prot" in result.stderr
    assert "Traceback" not in result.stderr


def test_trackerweb_endpoints_names_the_file_too(tmp_path):
    good = tmp_path / "good.yml"
    good.write_text(f"tracker_store:\n  type: SQL\n  db: {tmp_path / 'g.db'}\n")
    result = run_manage("check", env_extra={"TRACKERWEB_ENDPOINTS": str(good)}, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    missing = run_manage("check", env_extra={"TRACKERWEB_ENDPOINTS": str(tmp_path / "nope.yml")}, tmp_path=tmp_path)
    assert missing.returncode != 0 and "stores.E001" in missing.stderr


def test_type_redis_gets_every_redis_parameter(tmp_path, monkeypatch):
    from stores.backends.redis import RedisTrackerStore

    monkeypatch.setenv("REDIS_PASSWORD", "pw")
    store = build("tracker_store:\n  type: redis\n  url: cache.local\n  port: 6380\n  db: 2\n"
                  "  password: ${REDIS_PASSWORD}\n  record_exp: 30000\n  use_ssl: true\n  key_prefix: tenant42\n",
                  tmp_path)
    assert isinstance(store, RedisTrackerStore)
    assert (store.host, store.port, store.db, store.record_exp, store.use_ssl, store.key_prefix) == (
        "cache.local", 6380, 2, 30000, True, "tenant42:tracker:")
    assert store.connection.cache_settings()["LOCATION"] == "rediss://:pw@cache.local:6380/2"


def test_type_redis_has_rasas_defaults(tmp_path):
    store = build("tracker_store:\n  type: redis\n", tmp_path)
    assert (store.host, store.port, store.db, store.record_exp, store.use_ssl, store.key_prefix) == (
        "localhost", 6379, 0, None, False, "tracker:")


@pytest.mark.parametrize("type_name", ["mongod", "mongo", "Mongod"])
def test_type_mongod_gets_every_mongo_parameter(tmp_path, type_name):
    from stores.backends.mongo import MongoTrackerStore

    store = build(f"tracker_store:\n  type: {type_name}\n  url: mongodb://m1:27017,m2:27017/?replicaSet=rs\n"
                  "  db: bot\n  username: rasa\n  password: pw\n  collection: convs\n  auth_source: bots\n", tmp_path)
    assert isinstance(store, MongoTrackerStore)
    assert (store.db_name, store.collection_name, store.auth_source) == ("bot", "convs", "bots")
    assert store.describe() == "MongoDB at m1:27017, m2:27017, collection bot.convs"
