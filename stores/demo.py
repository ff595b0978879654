"""Demo conversations for `make run`: what a small restaurant bot's store holds.

Deterministic (seeded), shaped like Rasa 3.x writes them, with several
sessions, slots, forms, a fallback and several channels.
"""

import random
import uuid

CHANNELS = ["rest", "socketio", "telegram", "slack"]
TURNS = [
    ("greet", "hi there", [], "utter_greet", "Hey! How can I help?"),
    ("restaurant_search", "I'm looking for a restaurant", [], "utter_ask_cuisine", "What cuisine would you like?"),
    ("inform", "something italian", [{"entity": "cuisine", "value": "italian"}], "utter_ask_location", "Where should it be?"),
    ("inform", "in Berlin please", [{"entity": "location", "value": "Berlin"}], "utter_ask_num_people", "For how many people?"),
    ("inform", "four of us", [{"entity": "number", "value": 4}], "utter_confirm", "Booking a table for 4. Anything else?"),
    ("thank", "thanks a lot!", [], "utter_welcome", "You're welcome 🙂"),
    ("out_of_scope", "can you sing a song?", [], "action_default_fallback", "Sorry, I didn't get that."),
    ("goodbye", "bye", [], "utter_goodbye", "Bye, see you soon!"),
]
ENTITY_SLOTS = {"cuisine": "cuisine", "location": "location", "number": "num_people"}


def _action(name, t, policy=None, confidence=None):
    return {"event": "action", "timestamp": t, "name": name, "policy": policy,
            "confidence": confidence, "action_text": None, "hide_rule_turn": False}


def _session_start(t):
    return [
        _action("action_session_start", t, confidence=1.0),
        {"event": "session_started", "timestamp": t + 0.01},
        _action("action_listen", t + 0.02),
    ]


def _turn(rng, t, channel, intent, text, entities, action, response):
    confidence = round(rng.uniform(0.35, 0.99), 4)
    message_id = uuid.UUID(int=rng.getrandbits(128)).hex
    events = [{
        "event": "user", "timestamp": t, "text": text, "input_channel": channel, "message_id": message_id,
        "metadata": {},
        "parse_data": {
            "intent": {"name": intent, "confidence": confidence},
            "entities": [{**e, "start": 0, "end": len(text), "extractor": "DIETClassifier"} for e in entities],
            "text": text, "message_id": message_id, "metadata": {},
            "intent_ranking": [{"name": intent, "confidence": confidence}],
        },
    }]
    t += 0.05
    for entity in entities:
        events.append({"event": "slot", "timestamp": t, "name": ENTITY_SLOTS[entity["entity"]], "value": entity["value"]})
        t += 0.01
    policy = "RulePolicy" if action.startswith("action_default") else "TEDPolicy"
    events.append(_action(action, t, policy, round(rng.uniform(0.6, 1.0), 4)))
    events.append({"event": "bot", "timestamp": t + 0.02, "text": response, "metadata": {"utter_action": action},
                   "data": {"elements": None, "quick_replies": None, "buttons": None, "attachment": None,
                            "image": None, "custom": None}})
    events.append(_action("action_listen", t + 0.04, "RulePolicy", 1.0))
    return events


def demo_conversations(count=24, seed=7, start=1_767_225_600.0):
    """{sender_id: [event dicts]} for `count` conversations starting 2026-01-01."""
    rng = random.Random(seed)
    conversations = {}
    t = start
    for number in range(count):
        sender_id = f"demo-{number + 1:03d}"
        channel = CHANNELS[number % len(CHANNELS)]
        events = []
        for _session in range(1 + (number % 3 == 0)):
            t += rng.uniform(600, 86_400)
            events += _session_start(t)
            t += 1
            for turn in rng.sample(TURNS, rng.randint(2, 6)):
                t += rng.uniform(3, 60)
                events += _turn(rng, t, channel, *turn)
                t = events[-1]["timestamp"]
        conversations[sender_id] = events
    return conversations
