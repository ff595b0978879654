"""endpoints.yml values read alike by every store and by event_broker: typed in YAML, or text from a ${VAR}."""

import pytest

from stores.exceptions import ConfigurationError
from stores.handler import create_from_endpoints
from stores.parameters import EVENT_BROKER, TRACKER_STORE

# Every boolean and numeric parameter of every store and of event_broker, as a
# ${VAR} gives it (a string, always), and what it must become. The in-memory
# and MongoDB stores have none.
TYPED_PARAMETERS = [
    ("tracker_store", "type: SQL\n  dialect: postgresql", "port", "5433", lambda s, b: s.settings_dict["PORT"], "5433"),
    ("tracker_store", "type: redis", "port", "6380", lambda s, b: s.port, 6380),
    ("tracker_store", "type: redis", "db", "3", lambda s, b: s.db, 3),
    ("tracker_store", "type: redis", "record_exp", "60", lambda s, b: s.record_exp, 60),
    ("tracker_store", "type: redis", "use_ssl", "TRUE", lambda s, b: s.use_ssl, True),
    ("tracker_store", "type: redis", "use_ssl", "false", lambda s, b: s.use_ssl, False),
    ("event_broker", "type: pika", "port", "5673", lambda s, b: b.rabbitmq.port, 5673),
    ("event_broker", "type: pika", "connection_attempts", "3", lambda s, b: b.connection_attempts, 3),
    ("event_broker", "type: pika", "retry_delay_in_seconds", "0.5", lambda s, b: b.retry_delay, 0.5),
    ("event_broker", "type: pika", "should_keep_unpublished_messages", "False", lambda s, b: b.keep_unpublished, False),
    ("event_broker", "type: pika", "should_keep_unpublished_messages", "true", lambda s, b: b.keep_unpublished, True),
    ("event_broker", "type: pika", "raise_on_failure", "True", lambda s, b: b.raise_on_failure, True),
]


def endpoints(tmp_path, section, first_line, key):
    text = f"{section}:\n  {first_line}\n  {key}: ${{TW_TEST_VALUE}}\n"
    if section == "event_broker":
        text += "tracker_store:\n  type: SQL\n  db: x.db\n"
    path = tmp_path / "endpoints.yml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("section, first_line, key, value, read, expected", TYPED_PARAMETERS,
                         ids=[f"{row[0]}-{row[1].split()[1]}-{row[2]}-{row[3]}" for row in TYPED_PARAMETERS])
def test_a_variable_works_in_every_boolean_and_numeric_parameter(tmp_path, monkeypatch, section, first_line, key,
                                                                value, read, expected):
    monkeypatch.setenv("TW_TEST_VALUE", value)
    store = create_from_endpoints(endpoints(tmp_path, section, first_line, key))
    assert read(store, store.event_broker) == expected
    if store.event_broker is not None:
        store.event_broker.close(0)


CHECK_IDS = {"tracker_store": "stores.E005", "event_broker": "stores.E009"}
PARAMETERS = sorted({row[:3] for row in TYPED_PARAMETERS})


@pytest.mark.parametrize("section, first_line, key", PARAMETERS, ids=[f"{row[0]}-{row[2]}" for row in PARAMETERS])
def test_a_variable_holding_neither_a_flag_nor_a_number_is_an_error_naming_the_parameter(tmp_path, monkeypatch, section,
                                                                                         first_line, key):
    monkeypatch.setenv("TW_TEST_VALUE", "maybe")
    with pytest.raises(ConfigurationError) as caught:
        create_from_endpoints(endpoints(tmp_path, section, first_line, key))
    assert caught.value.check_id == CHECK_IDS[section]
    assert f"{section}.{key} must be " in str(caught.value) and "got 'maybe'" in str(caught.value)


@pytest.mark.parametrize("value, expected", [(True, True), (False, False), ("true", True), ("FALSE", False),
                                             (" True ", True), (None, "default"), ("", "default")])
def test_a_flag_is_true_or_false_in_any_case(value, expected):
    assert TRACKER_STORE.flag("use_ssl", value, default="default") == expected


@pytest.mark.parametrize("value", ["yes", "on", "1", 1, 0, "maybe", [True]])
def test_a_flag_takes_nothing_but_true_or_false(value):
    with pytest.raises(ConfigurationError, match="tracker_store.use_ssl must be true or false") as caught:
        TRACKER_STORE.flag("use_ssl", value)
    assert caught.value.check_id == "stores.E005"


@pytest.mark.parametrize("value, expected", [(5, 5), ("5", 5), (" 42 ", 42), (None, 7), ("", 7)])
def test_a_whole_number_is_an_integer_or_its_digits(value, expected):
    assert EVENT_BROKER.whole_number("connection_attempts", value, default=7, minimum=1) == expected


@pytest.mark.parametrize("value", [True, 5.0, "5.0", "1e3", "²", "five", 0, "-3", [5]])
def test_a_whole_number_refuses_anything_else_and_what_is_below_its_minimum(value):
    with pytest.raises(ConfigurationError, match="event_broker.connection_attempts must be a whole number 1 or more"):
        EVENT_BROKER.whole_number("connection_attempts", value, minimum=1)


@pytest.mark.parametrize("value", [0, "65536", 70000])
def test_a_port_is_from_1_to_65535(value):
    with pytest.raises(ConfigurationError, match="tracker_store.port must be a whole number from 1 to 65535"):
        TRACKER_STORE.port("port", value)


@pytest.mark.parametrize("value, expected", [(0, 0.0), (2, 2.0), (0.25, 0.25), ("1.5", 1.5), (None, 5.0)])
def test_seconds_are_a_finite_number_from_0(value, expected):
    assert EVENT_BROKER.seconds("retry_delay_in_seconds", value, default=5.0) == expected


@pytest.mark.parametrize("value", [-1, "-0.5", "inf", "nan", float("nan"), "soon", True])
def test_seconds_refuse_anything_else(value):
    with pytest.raises(ConfigurationError, match="retry_delay_in_seconds must be a number of seconds"):
        EVENT_BROKER.seconds("retry_delay_in_seconds", value)


def test_text_takes_a_number_as_the_text_yaml_read_it_from():
    # `password: 1234` is a number to YAML; `password: ${PASSWORD}` is "1234".
    assert TRACKER_STORE.text("password", 1234) == TRACKER_STORE.text("password", "1234") == "1234"


@pytest.mark.parametrize("value", [True, {"a": "s3cret"}, ["s3cret"]])
def test_text_refuses_other_types_naming_the_type_never_the_value(value):
    with pytest.raises(ConfigurationError, match="tracker_store.password must be a string, got") as caught:
        TRACKER_STORE.text("password", value)
    assert "s3cret" not in str(caught.value)


def test_non_empty_text_refuses_an_empty_string():
    with pytest.raises(ConfigurationError, match="event_broker.exchange_name must be a non-empty string, got ''"):
        EVENT_BROKER.text("exchange_name", "", non_empty=True)


def test_a_parameter_left_empty_in_yaml_takes_its_default_but_a_queue_list_may_not_hold_one():
    from stores.handler import create_event_broker

    broker = create_event_broker({"exchange_name": None, "port": None, "connection_attempts": None})
    assert (broker.exchange_name, broker.rabbitmq.port, broker.connection_attempts) == ("rasa-exchange", 5672, 20)
    with pytest.raises(ConfigurationError, match="event_broker.queues must be a list of queue names"):
        create_event_broker({"queues": ["a", None]})
