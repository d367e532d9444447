"""The TwiML program: Twilio's rules for running a document, step by step (pure)."""

from __future__ import annotations

import json

import pytest

from twilio.twiml.program import (
    ERROR_LOOP,
    ERROR_UNSUPPORTED,
    DocumentError,
    Fetch,
    Forward,
    Hangup,
    Listen,
    Program,
    Speak,
    Wait,
    compile_document,
    notes,
)
from twilio.twiml.voice_response import VoiceResponse

NOW = 1_000_000.0


def run_until_blocked(program: Program, now: float = NOW) -> list[object]:
    steps: list[object] = []
    while (step := program.next_step(now)) is not None:
        steps.append(step)
        if isinstance(step, Speak):
            program.spoke(now, step.text, 0.0, 15.0)
        if isinstance(step, Hangup | Forward):
            break
    return steps


def test_say_loop_is_spoken_as_often_as_asked_and_the_call_hangs_up_at_the_end() -> None:
    program = Program.inline('<Response><Say loop="3">Hi</Say></Response>')
    steps = run_until_blocked(program)
    assert steps == [Speak("Hi", None)] * 3 + [Hangup("the document ended")]
    assert program.done


def test_the_end_of_a_document_waits_for_the_last_words() -> None:
    program = Program.inline("<Response><Say>Goodbye and thank you</Say></Response>")
    step = program.next_step(NOW)
    assert isinstance(step, Speak)
    program.spoke(NOW, step.text, ends_in=2.5, rate=15.0)
    wait = program.next_step(NOW)
    assert isinstance(wait, Wait)
    assert wait.until == NOW + 2.5
    assert program.next_step(NOW + 1) is None  # still waiting
    assert program.on_wake("stale") is None
    assert program.on_wake(wait.wake) == Hangup("the document ended")


def test_without_kaphila_timing_speech_length_is_estimated_from_the_rate() -> None:
    program = Program.inline("<Response><Say>fifteen chars!!</Say><Say>more</Say></Response>")
    first = program.next_step(NOW)
    assert isinstance(first, Speak)
    program.spoke(NOW, first.text, None, rate=15.0)
    second = program.next_step(NOW)
    assert isinstance(second, Speak)
    program.spoke(NOW, second.text, None, rate=15.0)
    # queued behind the first: 1 s + max(0.3, 4/15)
    assert program.speech_until == pytest.approx(NOW + 1.0 + 0.3)


def test_say_loop_inside_gather_is_spoken_in_the_prompt() -> None:
    (gather,) = compile_document(
        '<Response><Gather numDigits="1"><Say loop="2">Press 1</Say><Pause/>'
        "<Say>or 2</Say></Gather></Response>"
    )
    assert gather["prompt"] == "Press 1 Press 1 or 2"
    assert gather["body"] == {
        "timeout": 5000,
        "numDigits": 1,
        "finishOnKey": "#",
        "text": gather["prompt"],
    }


def test_gather_posts_digits_and_finished_on_key_to_its_action() -> None:
    program = Program()
    program.load(
        '<Response><Gather action="/menu" finishOnKey="#"/><Say>no input</Say></Response>',
        "https://app.example/start",
        "POST",
    )
    listen = program.next_step(NOW)
    assert isinstance(listen, Listen)
    program.started_gather("g1")
    program.on_digit("4")
    program.on_digit("#")
    program.on_gather("complete", "4", "g-old")  # an older gather's result: ignored
    assert program.waiting is not None
    program.on_gather("complete", "4", "g1")
    fetch = program.next_step(NOW)
    assert fetch == Fetch("https://app.example/menu", "POST", {"Digits": "4", "FinishedOnKey": "#"})


def test_gather_without_action_posts_back_to_the_current_document() -> None:
    program = Program()
    program.load('<Response><Gather method="GET"/></Response>', "https://app.example/ivr", "GET")
    program.next_step(NOW)
    program.on_gather("complete", "12")
    assert program.next_step(NOW) == Fetch(
        "https://app.example/ivr", "GET", {"Digits": "12", "FinishedOnKey": ""}
    )


def test_gather_without_action_in_an_inline_document_falls_through() -> None:
    program = Program.inline("<Response><Gather/><Say>after</Say></Response>")
    assert isinstance(program.next_step(NOW), Listen)
    program.on_gather("complete", "9")
    assert program.next_step(NOW) == Speak("after", None)


def test_gather_timeout_falls_through_to_the_next_verb() -> None:
    program = Program()
    program.load(
        '<Response><Gather action="/a"/><Say>bye</Say></Response>', "https://x.example/", "POST"
    )
    program.next_step(NOW)
    program.on_gather("timeout", "")
    assert program.next_step(NOW) == Speak("bye", None)


def test_dial_ends_the_document_and_extra_numbers_are_refused() -> None:
    program = Program.inline("<Response><Dial>+15551230000</Dial><Say>never</Say></Response>")
    assert run_until_blocked(program) == [Forward("15551230000")]
    assert program.next_step(NOW) is None
    with pytest.raises(DocumentError, match="one number only") as caught:
        compile_document(
            "<Response><Dial><Number>+15551230000</Number><Number>+15551230001</Number>"
            "</Dial></Response>"
        )
    assert caught.value.code == ERROR_UNSUPPORTED


@pytest.mark.parametrize("verb", ["<Play>x.mp3</Play>", "<Record/>", "<Enqueue>q</Enqueue>"])
def test_verbs_kaphila_cannot_run_fail_the_whole_document(verb: str) -> None:
    with pytest.raises(DocumentError, match="not supported by Kaphila") as caught:
        compile_document(f"<Response><Say>first</Say>{verb}</Response>")
    assert caught.value.verb in ("Play", "Record", "Enqueue")


def test_redirect_is_resolved_against_the_document_and_loops_are_stopped() -> None:
    program = Program()
    program.load(
        "<Response><Redirect>next</Redirect></Response>", "https://a.example/x/doc", "POST"
    )
    for _ in range(10):
        step = program.next_step(NOW)
        assert step == Fetch("https://a.example/x/next", "POST", {})
        program.load("<Response><Redirect>next</Redirect></Response>", step.url, "POST")
    with pytest.raises(DocumentError) as caught:
        program.next_step(NOW)
    assert caught.value.code == ERROR_LOOP


def test_a_relative_url_in_an_inline_document_is_an_error() -> None:
    program = Program.inline("<Response><Redirect>/next</Redirect></Response>")
    with pytest.raises(DocumentError, match="inline document"):
        program.next_step(NOW)


def test_pause_waits_after_the_speech_before_it() -> None:
    program = Program.inline('<Response><Say>hello</Say><Pause length="2"/><Say>x</Say></Response>')
    say = program.next_step(NOW)
    assert isinstance(say, Speak)
    program.spoke(NOW, say.text, 1.0, 15.0)
    wait = program.next_step(NOW)
    assert isinstance(wait, Wait)
    assert wait.until == NOW + 3.0
    assert program.on_wake(wait.wake) is None
    assert program.next_step(NOW + 3) == Speak("x", None)


def test_the_state_survives_json_at_every_step() -> None:
    program = Program()
    program.load(
        '<Response><Say>a</Say><Gather action="/g"/></Response>', "https://h.example/", "POST"
    )
    program.next_step(NOW)
    copy = Program.from_json(json.loads(json.dumps(program.to_json())))
    assert copy == program
    assert isinstance(copy.next_step(NOW), Listen)


def test_twilio_voices_are_mapped_and_the_mapping_is_noted() -> None:
    response = VoiceResponse()
    response.say("a", voice="alice")
    response.say("b", voice="man", language="en-GB")
    response.say("c", voice="Polly.Joanna")
    response.say("d", voice="Polly.Nobody")
    response.say("e", voice="en-US-Neural2-A")
    verbs = compile_document(str(response))
    assert [v["voice"] for v in verbs] == [
        "en-US-Neural2-F",
        "en-GB-Neural2-D",
        "en-US-Neural2-F",
        "en-US-Neural2-F",
        "en-US-Neural2-A",
    ]
    said = notes(verbs)
    assert len(said) == 4
    assert any("unknown Amazon Polly voice 'Polly.Nobody'" in n for n in said)


def test_a_failed_program_reports_its_error_at_the_first_step_and_recovers_once() -> None:
    program = Program.failed(DocumentError("bad", 12100))
    with pytest.raises(DocumentError):
        program.next_step(NOW)
    assert program.recover("https://h.example/fallback", "POST", {"ErrorCode": "12100"})
    assert program.next_step(NOW) == Fetch(
        "https://h.example/fallback", "POST", {"ErrorCode": "12100"}
    )
    assert not program.recover("https://h.example/fallback", "POST", {})


def test_hangup_and_dial_wait_for_the_words_before_them() -> None:
    for tail, final in (
        ("<Hangup/>", Hangup("<Hangup>")),
        ("<Dial>+15550009999</Dial>", Forward("15550009999")),
    ):
        program = Program.inline(f"<Response><Say>Goodbye now</Say>{tail}</Response>")
        say = program.next_step(NOW)
        assert isinstance(say, Speak)
        program.spoke(NOW, say.text, ends_in=1.5, rate=15.0)
        wait = program.next_step(NOW)
        assert isinstance(wait, Wait)
        assert wait.until == NOW + 1.5
        assert program.on_wake(wait.wake) is None
        assert program.next_step(NOW + 1.5) == final
        assert program.done


def test_dial_attributes_kaphila_cannot_honour_are_noted() -> None:
    verbs = compile_document(
        '<Response><Dial callerId="+15550001111" timeout="20">+15550009999</Dial></Response>'
    )
    (note,) = notes(verbs)
    assert "callerId timeout" in note
