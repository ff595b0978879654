"""The conversations scripts/rasa_pro_fixtures.py writes through Rasa Pro 3.21.

Each conversation is a list of steps. Steps the real dialogue engine runs:
- Say(text, llm): a user message through Agent.handle_message; `llm` is the
  answer the scripted command generator gives (Rasa Pro's command DSL, one
  command a line), or None when Rasa Pro must not ask the LLM (button payloads
  like /SetSlots(...), /intent triggers, empty or too long messages).
- Voice(kind, ...): a composed voice input event through the processor's voice
  path (_handle_voice_input_event): barge-in, suppressed input, silence timeout,
  a transcript, a session start.
Steps built with Rasa Pro's own event classes, where the engine can't produce
them without an LLM, a voice connection, a sub-agent or the Mantle engine:
- Record(make): events recorded through the processor (record_event_on_tracker).
- Turn(make): a turn of events appended to the stored tracker and saved through
  the store, the way a processor saves after each message.

This module is read by the fixture script only; it imports Rasa Pro lazily
inside the `make` callables.
"""

from dataclasses import dataclass, field
from typing import Callable, List, Optional

# The scripted LLM raises Rasa Pro's ProviderClientAPIException for this answer,
# as a real LLM outage would.
LLM_DOWN = object()


@dataclass
class Say:
    text: str
    llm: object = None


@dataclass
class Voice:
    kind: str  # barge_in | suppressed | silence | transcript | session_start
    text: str = ""
    llm: object = None
    metadata: dict = field(default_factory=dict)


@dataclass
class Record:
    make: Callable


@dataclass
class Turn:
    make: Callable


@dataclass
class Conversation:
    sender_id: str
    user_id: Optional[str]
    exercises: List[str]
    steps: list
    # "classic": the store writes flat dicts; "mantle": the store's engine is
    # Mantle, so it writes ProtoJSON where Rasa Pro has a mapping.
    contract: str = "classic"
    # "engine": every event from Rasa Pro's dialogue engine; "event classes":
    # built with Rasa Pro's event classes; "engine + event classes": both.
    produced_by: str = "engine"
    input_channel: str = "rest"
    # Run with Rasa Pro's record_commands_and_prompts on (as its e2e and
    # dialogue-understanding test runners do): user messages then also carry
    # predicted_commands and the rendered prompt.
    record_prompts: bool = False
    # The conversation is continued after an upgrade to the Mantle engine.
    then_mantle: Optional[Callable] = None


def _voice_latency(ttfb, total):
    return {"voice_latency": {"tts_time_to_first_byte_ms": ttfb, "tts_total_time_ms": total,
                              "read_from_cache": False}}


def tts_finished(ttfb, total):
    def make(tracker):
        from rasa.shared.core.events import TTSFinished

        return [TTSFinished(metadata=_voice_latency(ttfb, total))]
    return Record(make)


def sub_agent_turns():
    """A CALM flow handing the conversation to a sub-agent (A2A/MCP) and back.

    Rasa Pro's sub-agents need a running agent server and an LLM; the events
    are the ones its agent machinery records, built with its event classes.
    """
    def started(tracker):
        from rasa.dialogue_understanding.stack.frames.flow_stack_frame import (
            AgentStackFrame,
            AgentState,
            UserFlowStackFrame,
        )
        from rasa.shared.core.events import (
            AgentProcessing,
            AgentStarted,
            FlowStarted,
            McpToolExecuted,
        )

        def push_agent(stack):
            stack.push(UserFlowStackFrame(frame_id="BOOKTRP1", flow_id="book_trip",
                                          step_id="book_trip_0_call_agent"))
            stack.push(AgentStackFrame(
                frame_id="AGENTFR1", flow_id="book_trip", step_id="book_trip_0_call_agent",
                agent_id="travel_agent", agent_task_id="task-1", context_id="ctx-1",
                state=AgentState.WAITING_FOR_INPUT,
            ))
            return stack

        return [
            FlowStarted("book_trip"),
            ("stack", push_agent),
            AgentStarted("travel_agent", "book_trip", context_id="ctx-1"),
            AgentProcessing("travel_agent", "book_trip"),
            McpToolExecuted("search_flights", {"from": "BER", "to": "LIS"},
                            result={"flights": 3}),
        ]

    def uttered(tracker):
        from rasa.shared.core.events import AgentUttered, BotUttered

        return [AgentUttered("I found 3 flights to Lisbon.", {"flights": 3}),
                BotUttered("I found 3 flights to Lisbon.")]

    def agent_state(state_name):
        def change(stack):
            from rasa.dialogue_understanding.stack.frames.flow_stack_frame import AgentState

            stack.frames[-1].state = AgentState(state_name)
            return stack
        return change

    def interrupted(tracker):
        from rasa.shared.core.events import AgentInterrupted, AgentResumed

        return [("stack", agent_state("interrupted")),
                AgentInterrupted("travel_agent", "book_trip"),
                ("stack", agent_state("waiting_for_input")),
                AgentResumed("travel_agent", "book_trip")]

    def pop_agent_and_flow(stack):
        stack.pop()
        stack.pop()
        return stack

    def finished(tracker):
        from rasa.shared.core.events import (
            ActionExecutionRejected,
            AgentCancelled,
            AgentCompleted,
            ErrorHandled,
            FlowCompleted,
            RoutingSessionEnded,
        )

        return [AgentCompleted("travel_agent", "book_trip", status="completed"),
                AgentCancelled("travel_agent", "book_trip", reason="user_changed_topic"),
                ActionExecutionRejected("action_book_trip", policy="FlowPolicy"),
                ("stack", pop_agent_and_flow),
                FlowCompleted("book_trip", "END"), ErrorHandled(500),
                RoutingSessionEnded()]

    return [Record(started), Record(uttered), Record(interrupted), Record(finished)]


def mantle_user_message(text, tracker, input_channel):
    """A user message as the Mantle processor logs it: parse_data is its stub, no commands."""
    import hashlib

    from rasa.shared.core.events import UserUttered

    meta = {"user_id": tracker.user_id} if tracker.user_id else {}
    message_id = hashlib.md5(f"{tracker.sender_id}:{len(tracker.events)}".encode()).hexdigest()
    return UserUttered(text, parse_data={"intent": {"name": None, "confidence": 0.0},
                                         "entities": [], "commands": []},
                       input_channel=input_channel, message_id=message_id, metadata=meta)


def mantle_session(user_text_first, user_text_second):
    """Turns of Rasa Pro's Mantle engine, as its processor and skill executor emit them.

    Mantle needs an LLM to choose skills and tools; the events follow its
    emit sites (MantleMessageProcessor session start, SkillExecutor, tool
    dispatch, MemoryManager, BotTurnEnded per turn) with its stack frames.
    """
    def frames(*specs):
        from rasa.dialogue_understanding.stack.dialogue_stack import DialogueStack
        from rasa.dialogue_understanding.stack.frames.mantle_stack_frames import (
            MantleStackFrameType,
            OrderedBlockStackFrame,
            SkillStackFrame,
        )

        built = []
        for spec in specs:
            kind, frame_id, skill = spec[:3]
            frame_type = MantleStackFrameType(spec[-1]) if spec[-1] in {
                "regular", "interrupt", "call", "inline_reference", "pending"} else (
                MantleStackFrameType.REGULAR)
            if kind == "skill":
                built.append(SkillStackFrame(frame_id=frame_id, skill_id=skill,
                                             frame_type=frame_type))
            else:
                block, step = spec[3], spec[4]
                built.append(OrderedBlockStackFrame(frame_id=frame_id, skill_id=skill,
                                                    block_id=block, step_id=step,
                                                    frame_type=frame_type))
        return DialogueStack(frames=built)

    def user(text, tracker):
        return mantle_user_message(text, tracker, "browser_audio")

    def session_start(tracker):
        from rasa.shared.core.events import (
            ActionExecuted,
            BotTurnEnded,
            BotUttered,
            MemorySet,
            SessionStarted,
            SkillActivated,
            SkillCompleted,
        )

        events = [SessionStarted(),
                  MemorySet("session_started_metadata", {"channel": "browser_audio",
                                                         "locale": "en-GB"}),
                  SkillActivated("default_session_start")]
        return events + [
            ("stack", frames(("skill", "MSKL0001", "default_session_start", "regular"))),
            BotUttered("Hi, I'm the bank's assistant. How can I help?",
                       metadata={"skill_id": "default_session_start"}),
            SkillCompleted("default_session_start"),
            ("stack", frames()),
            ActionExecuted("action_listen"),
            BotTurnEnded(metadata={"latency_breakdown": {"user_perceived_latency_ms": 412.0}}),
        ]

    def turn_one(tracker):
        from rasa.shared.core.events import (
            ActionExecuted,
            BotTurnEnded,
            BotUttered,
            MemorySet,
            OrderedBlockEntered,
            SkillActivated,
            ToolExecuted,
            TTSFinished,
            UserBargeIn,
        )

        return [user(user_text_first, tracker)] + [
            SkillActivated("transfer_money"),
            OrderedBlockEntered("transfer_money", "main"),
            ("stack", frames(("skill", "MSKL0002", "transfer_money", "regular"),
                             ("block", "MBLK0002", "transfer_money", "main",
                              "collect_recipient", "regular"))),
            MemorySet("recipient", "Hanna"),
            ToolExecuted("lookup_payee", {"name": "Hanna"}, "local",
                         result={"iban": "DE02 1001 0010 0006 8201 01"}),
            ("stack", frames(("skill", "MSKL0002", "transfer_money", "regular"),
                             ("block", "MBLK0002", "transfer_money", "main",
                              "collect_amount", "regular"))),
            BotUttered("How much should I send to Hanna?",
                       metadata={"skill_id": "transfer_money"}),
            TTSFinished(metadata=_voice_latency(180.5, 940.0)),
            UserBargeIn(metadata={"playback_markers": {"acknowledged": ["m1"]}}),
            ActionExecuted("action_listen"),
            BotTurnEnded(metadata={"latency_breakdown": {"user_perceived_latency_ms": 655.0}}),
        ]

    def turn_digression(tracker):
        from rasa.shared.core.events import (
            ActionExecuted,
            BotTurnEnded,
            BotUttered,
            OrderedBlockInterrupted,
            OrderedBlockResumed,
            SkillActivated,
            SkillCompleted,
            SkillInterrupted,
            SkillResumed,
            ToolExecuted,
        )

        return [user("wait, how much do I have?", tracker)] + [
            SkillInterrupted("transfer_money", "collect_amount",
                             metadata={"digression": {"from": "transfer_money"}}),
            OrderedBlockInterrupted("transfer_money", "main", "collect_amount"),
            SkillActivated("check_balance"),
            ("stack", frames(("skill", "MSKL0002", "transfer_money", "interrupt"),
                             ("block", "MBLK0002", "transfer_money", "main",
                              "collect_amount", "interrupt"),
                             ("skill", "MSKL0003", "check_balance", "regular"))),
            ToolExecuted("get_balance", {}, "mcp", result=None, is_error=True,
                         error_message="timeout after 5s", mcp_server="core_banking"),
            ToolExecuted("get_balance", {}, "mcp", result={"balance": 1234.56},
                         mcp_server="core_banking"),
            BotUttered("You have 1,234.56.", metadata={"skill_id": "check_balance"}),
            SkillCompleted("check_balance"),
            SkillResumed("transfer_money", "collect_amount"),
            OrderedBlockResumed("transfer_money", "main", "collect_amount"),
            ("stack", frames(("skill", "MSKL0002", "transfer_money", "regular"),
                             ("block", "MBLK0002", "transfer_money", "main",
                              "collect_amount", "regular"))),
            BotUttered("Back to your transfer: how much should I send to Hanna?"),
            ActionExecuted("action_listen"),
            BotTurnEnded(),
        ]

    def turn_complete(tracker):
        from rasa.shared.core.events import (
            ActionExecuted,
            BotTurnEnded,
            BotUttered,
            MemoryCleared,
            MemorySet,
            OrderedBlockCompleted,
            SkillCompleted,
            ToolExecuted,
        )

        return [user(user_text_second, tracker)] + [
            MemorySet("amount", 25.0),
            ToolExecuted("send_transfer", {"to": "Hanna", "amount": 25.0}, "local",
                         result={"status": "sent", "reference": "TX-77"}),
            BotUttered("Sent 25.00 to Hanna (reference TX-77)."),
            OrderedBlockCompleted("transfer_money", "main", "confirm"),
            SkillCompleted("transfer_money"),
            MemoryCleared("amount"),
            ("stack", frames()),
            ActionExecuted("action_listen"),
            BotTurnEnded(),
        ]

    def turn_unsupported(tracker):
        from rasa.shared.core.events import (
            ActionExecuted,
            BotTurnEnded,
            BotUttered,
            OrderedBlockCancelled,
            OrderedBlockEntered,
            SkillActivated,
            SkillCancelled,
            SkillCompleted,
            UnsupportedRequestClassified,
            UserInputSuppressed,
            UserSilenceTimeout,
        )

        return [user("can you book me a table for two?", tracker)] + [
            UnsupportedRequestClassified("out_of_scope", "restaurant booking is not a skill",
                                         "can you book me a table for two?"),
            SkillActivated("default_unsupported_request_handler"),
            BotUttered("Sorry, I can't book restaurants."),
            SkillCompleted("default_unsupported_request_handler"),
            SkillActivated("replace_card"),
            OrderedBlockEntered("replace_card", "main"),
            ("stack", frames(("skill", "MSKL0004", "replace_card", "regular"),
                             ("block", "MBLK0004", "replace_card", "main",
                              "collect_card_type", "regular"))),
            BotUttered("Which card should I replace?"),
            ActionExecuted("action_listen"),
            BotTurnEnded(),
            UserInputSuppressed("uh", "audio", "bot_speaking"),
            UserSilenceTimeout(7.0),
            OrderedBlockCancelled("replace_card", "main", "collect_card_type"),
            SkillCancelled("replace_card", "collect_card_type"),
            ("stack", frames()),
        ]

    def turn_end(tracker):
        from rasa.shared.core.events import ConversationInactive, SessionEnded

        return [ConversationInactive(), SessionEnded(metadata={"_reason": "user_disconnected"})]

    return [Turn(session_start), Turn(turn_one), Turn(turn_digression), Turn(turn_complete),
            Turn(turn_unsupported), Turn(turn_end)]


def mantle_after_upgrade():
    """A conversation the CALM engine began, continued after an upgrade to Mantle.

    The stored history keeps the classic events; the new ones are ProtoJSON,
    except types Rasa Pro has no ProtoJSON mapping for (a slot reset carried
    over from the CALM domain), which it writes classic even under Mantle.
    """
    def turn(tracker):
        from rasa.shared.core.events import (
            ActionExecuted,
            BotTurnEnded,
            BotUttered,
            MemorySet,
            SessionStarted,
            SkillActivated,
            SkillCompleted,
            SlotSet,
        )

        return [SessionStarted(),
                SlotSet("recipient", None),
                MemorySet("session_started_metadata", {"channel": "rest"}),
                mantle_user_message("what's my balance now?", tracker, "rest")] + [
            SkillActivated("check_balance"),
            BotUttered("You have 1,184.56."),
            SkillCompleted("check_balance"),
            ActionExecuted("action_listen"),
            BotTurnEnded(),
        ]
    return [Turn(turn)]


HOSTILE_SENDER = "hostile/ü 😀 %s ..\\ \"quoted\"\nsecond line"

CONVERSATIONS = [
    Conversation(
        "calm-transfer-completed", "u-anna",
        ["flow started and completed", "set slot", "start flow", "button payload /SetSlots",
         "pattern_collect_information", "pattern_completed", "link to pattern_customer_satisfaction",
         "bot_turn_ended"],
        [Say("Hi, I want to send some money", "start flow transfer_money"),
         Say("to Anna", "set slot recipient Anna"),
         Say("50 euros", "set slot amount 50"),
         Say("/SetSlots(transfer_confirmed=true)"),
         Say("no, that's all", "set slot continue_conversation false"),
         Say("/SetSlots(csat_score=satisfied)")],
    ),
    Conversation(
        "calm-transfer-cancelled", "u-anna",
        ["flow cancelled", "cancel flow", "pattern_cancel_flow", "several commands in one message"],
        [Say("send 20 to Bob", "start flow transfer_money\nset slot recipient Bob\nset slot amount 20"),
         Say("actually, stop that", "cancel flow")],
    ),
    Conversation(
        "calm-interrupted-resumed", "u-ben",
        ["flow interrupted and resumed", "pattern_continue_interrupted", "nlu_trigger by an LLM start flow",
         "button payload /SetSlots false branch"],
        [Say("I need to transfer money", "start flow transfer_money"),
         Say("to Carla", "set slot recipient Carla"),
         Say("hold on, what's my balance?", "start flow check_balance"),
         Say("yes, let's continue", "set slot continue_interrupted_flow_confirmation true"),
         Say("30", "set slot amount 30"),
         Say("/SetSlots(transfer_confirmed=false)"),
         Say("no thanks", "set slot continue_conversation false")],
    ),
    Conversation(
        "calm-correction", "u-ben",
        ["correction: a set slot for a filled slot (the stored command stays set slot)", "pattern_correction"],
        [Say("send 40 to Dan", "start flow transfer_money\nset slot recipient Dan\nset slot amount 40"),
         Say("sorry, make it 45", "set slot amount 45"),
         Say("/SetSlots(transfer_confirmed=true)")],
    ),
    Conversation(
        "calm-clarification", "u-carla",
        ["clarification", "clarify", "pattern_clarification", "categorical slot"],
        [Say("something is wrong with my card", "disambiguate flows replace_card block_card"),
         Say("block it please", "start flow block_card"),
         Say("the credit card", "set slot card_type credit")],
    ),
    Conversation(
        "calm-call-step", "u-carla",
        ["call step (frame_type call)", "flow started inside a call"],
        [Say("I lost my debit card", "start flow replace_card\nset slot card_type debit")],
    ),
    Conversation(
        "calm-cannot-handle", None,
        ["cannot handle (the LLM's answer parses to no command)", "chitchat (offtopic reply)",
         "knowledge (provide info) -> pattern_search", "pattern_cannot_handle", "pattern_chitchat",
         "a /word that is no intent: Rasa Pro strips the slash and asks the LLM",
         "anonymous conversation (no user_id)"],
        [Say("what's the weather like?", "offtopic reply"),
         Say("how do I change my PIN?", "provide info"),
         Say("purple monkey dishwasher", "I am not sure what the user wants."),
         Say("/weather", "offtopic reply")],
    ),
    Conversation(
        "calm-human-handoff", "u-dora",
        ["human handoff", "link to pattern_human_handoff"],
        [Say("I want to talk to a person", "start flow talk_to_human")],
    ),
    Conversation(
        "calm-internal-error", "u-dora",
        ["internal error", "pattern_internal_error", "error command (empty message, message too long, LLM down)"],
        [Say(""),
         Say("x" * 130),
         Say("send money", LLM_DOWN)],
    ),
    Conversation(
        "calm-nlu-trigger-and-payloads", "u-erik",
        ["/intent nlu_trigger start flow", "/SetSlots payload with two slots", "skip question",
         "repeat bot messages", "pattern_skip_question", "pattern_repeat_bot_messages"],
        [Say("/check_balance"),
         Say("I want to send money", "start flow transfer_money"),
         Say("/SetSlots(recipient=Frank, amount=12.5)"),
         Say("can we skip this?", "skip question"),
         Say("what did you say?", "repeat message"),
         Say("never mind", "cancel flow")],
    ),
    Conversation(
        "calm-restart-and-new-session", "u-erik",
        ["restart", "pattern_restart", "two sessions (the restart starts the second)",
         "/session_start inside a session: pattern_session_start, no new session"],
        [Say("transfer to Gus", "start flow transfer_money\nset slot recipient Gus"),
         Say("/restart"),
         Say("/session_start"),
         Say("how much money do I have", "start flow check_balance")],
    ),
    Conversation(
        "calm-voice-call", "u-fay",
        ["voice: user_barge_in", "voice: user_input_suppressed", "voice: silence timeout -> pattern_user_silence",
         "voice: tts_finished (event class)", "session end -> pattern_session_end -> session_ended",
         "input channel browser_audio"],
        [Voice("session_start", metadata={"call_id": "CA123", "phone_number": "+4930123456"}),
         Voice("transcript", "I want to send money to Gus", llm="start flow transfer_money\nset slot recipient Gus"),
         tts_finished(150.0, 820.0),
         Voice("barge_in", metadata={"transcript": "wait"}),
         Voice("suppressed", "um", metadata={}),
         Voice("silence"),
         Voice("transcript", "twenty", llm="set slot amount 20"),
         Voice("transcript", "/session_end")],
        input_channel="browser_audio",
    ),
    Conversation(
        HOSTILE_SENDER, "u-anna",
        ["hostile sender id (slash, emoji, %s, .., backslash, quotes, newline)",
         "unicode, RTL and markup in texts"],
        [Say("שלום 👋 <script>alert(1)</script> balance?", "start flow check_balance")],
    ),
    Conversation(
        "calm-e2e-recorded", "u-fay",
        ["predicted_commands and prompts in parse_data (record_commands_and_prompts)"],
        [Say("block my debit card", "start flow block_card\nset slot card_type debit")],
        record_prompts=True,
    ),
    Conversation(
        "calm-sub-agent", "u-gus",
        ["agent events (agent_started, agent_processing, agent, agent_interrupted, agent_resumed, "
         "agent_completed, agent_cancelled)", "mcp_tool_executed", "agent stack frame",
         "action_execution_rejected", "error", "routing_session_ended"],
        [Say("what's my balance", "start flow check_balance")] + sub_agent_turns(),
        produced_by="engine + event classes",
    ),
    Conversation(
        "calm-through-mantle-store", "u-gus",
        ["ProtoJSON written by the store (engine_version mantle) for user, bot, action, stack, "
         "session_started, bot_turn_ended", "classic fallback in the same conversation for flow_*, slot, "
         "user_featurization (no ProtoJSON mapping)", "commands inside user.parse_data in ProtoJSON"],
        [Say("send 15 to Ina", "start flow transfer_money\nset slot recipient Ina\nset slot amount 15"),
         Say("/SetSlots(transfer_confirmed=true)")],
        contract="mantle",
    ),
    Conversation(
        "mantle-skills", "u-hanna",
        ["Mantle engine events: skill_activated/completed/interrupted/resumed/cancelled, "
         "ordered_block_entered/completed/interrupted/resumed/cancelled, memory_set, memory_cleared, "
         "tool_executed (local, mcp, error), unsupported_request_classified, bot_turn_ended",
         "skill and ordered_block stack frames", "voice: tts_finished, user_barge_in, user_input_suppressed, "
         "user_silence_timeout", "inactive", "session_ended", "all ProtoJSON"],
        mantle_session("send money to Hanna", "25 please"),
        contract="mantle", produced_by="event classes", input_channel="browser_audio",
    ),
    Conversation(
        "calm-then-mantle", "u-hanna",
        ["one conversation in both contracts: classic (CALM engine) then ProtoJSON after an upgrade to Mantle",
         "slot event written classic under Mantle"],
        [Say("balance please", "start flow check_balance")],
        produced_by="engine + event classes",
        then_mantle=mantle_after_upgrade,
    ),
]
