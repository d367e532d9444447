"""TwiML renders byte-identically to Twilio's Python SDK 9.13.

Each expected string below is what twilio 9.13.0 itself printed for the same
code (a test vector, checked in); the benchmark compares the two packages
side by side again on every run.
"""

from __future__ import annotations

import pytest

from twilio.twiml import GenericNode, TwiML, TwiMLException, format_language, lower_camel
from twilio.twiml.voice_response import Dial, Number, Say, VoiceResponse

DECL = '<?xml version="1.0" encoding="UTF-8"?>'


def test_say_hello_world() -> None:
    r = VoiceResponse()
    r.say("Hello World")
    assert str(r) == (
        '<?xml version="1.0" encoding="UTF-8"?><Response><Say>Hello World</Say></Response>'
    )


def test_gather_with_nested_say_and_pause() -> None:
    r = VoiceResponse()
    g = r.gather(num_digits=1, action="/process-menu", timeout=8)
    g.say("For sales, press 1")
    g.pause(1)
    assert str(r) == (
        '<?xml version="1.0" encoding="UTF-8"?><Response><Gather action="/process-menu" numDigits="1" timeout="8"><Say>For sales, press 1</Say><Pause length="1" /></Gather></Response>'
    )


def test_say_language_loop_play_pause_hangup() -> None:
    r = VoiceResponse()
    r.say("Bienvenido", language="es", loop=2)
    r.play("beep", loop=3)
    r.pause(length=3)
    r.hangup()
    assert str(r) == (
        '<?xml version="1.0" encoding="UTF-8"?><Response><Say language="es" loop="2">Bienvenido</Say><Play loop="3">beep</Play><Pause length="3" /><Hangup /></Response>'
    )


def test_record_with_booleans() -> None:
    r = VoiceResponse()
    r.record(
        max_length=60,
        finish_on_key="#",
        action="/handle-recording",
        transcribe=True,
        transcribe_callback="/transcription",
        play_beep=False,
    )
    assert str(r) == (
        '<?xml version="1.0" encoding="UTF-8"?><Response><Record action="/handle-recording" finishOnKey="#" maxLength="60" playBeep="false" transcribe="true" transcribeCallback="/transcription" /></Response>'
    )


def test_redirect_and_reject() -> None:
    r = VoiceResponse()
    r.redirect("/new-handler", method="GET")
    r.reject(reason="busy")
    assert str(r) == (
        '<?xml version="1.0" encoding="UTF-8"?><Response><Redirect method="GET">/new-handler</Redirect><Reject reason="busy" /></Response>'
    )


def test_dial_number_conference() -> None:
    r = VoiceResponse()
    d = r.dial(caller_id="+15551234567", hangup_on_star=True, record="record-from-answer")
    d.number("+15557654321", status_callback_event="initiated ringing", send_digits="wwww1928")
    d.conference("Room 1234", start_conference_on_enter=False)
    assert str(r) == (
        '<?xml version="1.0" encoding="UTF-8"?><Response><Dial callerId="+15551234567" hangupOnStar="true" record="record-from-answer"><Number sendDigits="wwww1928" statusCallbackEvent="initiated ringing">+15557654321</Number><Conference startConferenceOnEnter="false">Room 1234</Conference></Dial></Response>'
    )


def test_ssml_inside_say() -> None:
    r = VoiceResponse()
    s = r.say("Hi", voice="Polly.Joanna")
    s.break_(strength="x-weak", time="100ms")
    s.say_as("12345", interpret_as="spell-out")
    s.lang("Bonjour", xml_lang="fr-FR")
    s.p("para")
    s.prosody("slow", rate="50%")
    s.emphasis("big", level="strong")
    s.phoneme("tomato", alphabet="ipa", ph="təˈmeɪtoʊ")
    s.sub("W3C", alias="World Wide Web Consortium")
    s.w("read", role="amazon:VBD")
    s.s("sentence")
    assert str(r) == (
        '<?xml version="1.0" encoding="UTF-8"?><Response><Say voice="Polly.Joanna">Hi<break strength="x-weak" time="100ms" /><say-as interpret-as="spell-out">12345</say-as><lang xml:lang="fr-FR">Bonjour</lang><p>para</p><prosody rate="50%">slow</prosody><emphasis level="strong">big</emphasis><phoneme alphabet="ipa" ph="təˈmeɪtoʊ">tomato</phoneme><sub alias="World Wide Web Consortium">W3C</sub><w role="amazon:VBD">read</w><s>sentence</s></Say></Response>'
    )


def test_escaping_text_and_attributes() -> None:
    r = VoiceResponse()
    r.say("a & b < c > d \" e ' f\n g\t h \r i")
    r.play('http://x/y?a=1&b="2"\n\t\r')
    assert str(r) == (
        '<?xml version="1.0" encoding="UTF-8"?><Response><Say>a &amp; b &lt; c &gt; d " e \' f\n g\t h \r i</Say><Play>http://x/y?a=1&amp;b="2"\n\t\r</Play></Response>'
    )


def test_append_nest_add_child_without_declaration() -> None:
    r = VoiceResponse()
    r.append(Say("x"))
    r.nest(Dial()).client("joey", url="http://a")
    r.add_child("Custom", "txt", some_attr="v", other_thing=True)
    assert r.to_xml(xml_declaration=False) == (
        '<Response><Say>x</Say><Dial><Client url="http://a">joey</Client></Dial><Custom otherThing="true" someAttr="v">txt</Custom></Response>'
    )


def test_empty_values_and_unicode() -> None:
    r = VoiceResponse()
    r.say("")
    r.say(None)
    r.pause(length=0)
    r.say("ünïcødé ✓ \ud800")
    assert str(r) == (
        '<?xml version="1.0" encoding="UTF-8"?><Response><Say /><Say /><Pause length="0" /><Say>ünïcødé ✓ &#55296;</Say></Response>'
    )


def test_strings_become_text_and_tails() -> None:
    r = VoiceResponse()
    r.nest("lead")
    r.say("one")
    r.nest("tail1")
    r.nest("tail2")
    assert str(r) == (
        '<?xml version="1.0" encoding="UTF-8"?><Response>lead<Say>one</Say>tail2</Response>'
    )


def test_context_managers_and_list_attribute() -> None:
    with VoiceResponse() as r:
        with r.gather(input="speech dtmf", hints=["a", "b"], barge_in=False) as g:
            g.say("x", loop=0)
    assert str(r) == (
        '<?xml version="1.0" encoding="UTF-8"?><Response><Gather bargeIn="false" hints="[\'a\', \'b\']" input="speech dtmf"><Say loop="0">x</Say></Gather></Response>'
    )


def test_connect_stream_and_conversation_relay() -> None:
    r = VoiceResponse()
    c = r.connect(action="/a")
    c.stream(url="wss://x", name="s").parameter(name="k", value="v")
    c.conversation_relay(url="wss://y", welcome_greeting="hi").language(
        code="en-US", tts_provider="google"
    )
    c.virtual_agent(connector_name="va").config(name="a", value="b")
    c.room("r1", participant_identity="p")
    c.autopilot("UA1")
    c.conversation(service_instance_sid="IS1")
    c.ai_session(ai_connector="x")
    c.conversation_relay_session(connector="y")
    assert str(r) == (
        '<?xml version="1.0" encoding="UTF-8"?><Response><Connect action="/a"><Stream name="s" url="wss://x"><Parameter name="k" value="v" /></Stream><ConversationRelay url="wss://y" welcomeGreeting="hi"><Language code="en-US" ttsProvider="google" /></ConversationRelay><VirtualAgent connectorName="va"><Config name="a" value="b" /></VirtualAgent><Room participantIdentity="p">r1</Room><Autopilot>UA1</Autopilot><Conversation serviceInstanceSid="IS1" /><AiSession aiConnector="x" /><ConversationRelaySession connector="y" /></Connect></Response>'
    )


def test_start_and_stop() -> None:
    r = VoiceResponse()
    st = r.start()
    st.transcription(status_callback_url="https://x", track="both_tracks").config(
        name="c", value="1"
    )
    st.siprec(connector_name="c").parameter(name="p", value="q")
    st.recording(trim="trim-silence", channels="dual")
    st.stream(url="wss://z")
    sp = r.stop()
    sp.stream(name="s")
    sp.siprec(name="c")
    sp.transcription(name="t")
    assert str(r) == (
        '<?xml version="1.0" encoding="UTF-8"?><Response><Start><Transcription statusCallbackUrl="https://x" track="both_tracks"><Config name="c" value="1" /></Transcription><Siprec connectorName="c"><Parameter name="p" value="q" /></Siprec><Recording channels="dual" trim="trim-silence" /><Stream url="wss://z" /></Start><Stop><Stream name="s" /><Siprec name="c" /><Transcription name="t" /></Stop></Response>'
    )


def test_pay_refer_enqueue_queue_sms() -> None:
    r = VoiceResponse()
    p = r.pay(charge_amount="10.00", valid_card_types="visa amex")
    pr = p.prompt(for_="payment-card-number", attempt="1 2")
    pr.say("Enter card")
    pr.play("x.mp3")
    pr.pause(2)
    p.parameter(name="a", value="b")
    r.prompt(for_="expiration-date")
    r.refer(action="/r").sip("sip:a@b")
    r.enqueue("support", wait_url="/w").task('{"a":1}', priority=5)
    r.queue("q1", url="/u")
    r.sms("text", to="+1", from_="+2")
    assert str(r) == (
        '<?xml version="1.0" encoding="UTF-8"?><Response><Pay chargeAmount="10.00" validCardTypes="visa amex"><Prompt attempt="1 2" for="payment-card-number"><Say>Enter card</Say><Play>x.mp3</Play><Pause length="2" /></Prompt><Parameter name="a" value="b" /></Pay><Prompt for="expiration-date" /><Refer action="/r"><Sip>sip:a@b</Sip></Refer><Enqueue waitUrl="/w">support<Task priority="5">{"a":1}</Task></Enqueue><Queue url="/u">q1</Queue><Sms from="+2" to="+1">text</Sms></Response>'
    )


def test_dial_nouns() -> None:
    r = VoiceResponse()
    d = r.dial()
    sip = d.sip("sip:x@y", username="u", password="p")
    sip.headers().header(name="X", value="1")
    sip.uri("sip:z@w", priority=1)
    d.sim("DE123")
    a = d.application("AP1")
    a.parameter(name="a", value="b")
    a.application_sid("AP2")
    d.whats_app("+1555")
    d.queue("q")
    c = d.client()
    c.identity("alice")
    c.parameter(name="k", value="v")
    assert str(r) == (
        '<?xml version="1.0" encoding="UTF-8"?><Response><Dial><Sip password="p" username="u">sip:x@y<Headers><Header name="X" value="1" /></Headers><Uri priority="1">sip:z@w</Uri></Sip><Sim>DE123</Sim><Application>AP1<Parameter name="a" value="b" /><ApplicationSid>AP2</ApplicationSid></Application><WhatsApp>+1555</WhatsApp><Queue>q</Queue><Client><Identity>alice</Identity><Parameter name="k" value="v" /></Client></Dial></Response>'
    )


def test_leave_echo_dict_value_reject_parameter() -> None:
    r = VoiceResponse()
    r.leave()
    r.echo()
    r.say(message={"k": "v"})
    r.reject().parameter(name="x", value="y")
    r.hangup().parameter(name="h", value="1")
    assert str(r) == (
        '<?xml version="1.0" encoding="UTF-8"?><Response><Leave /><Echo /><Say>{"k": "v"}</Say><Reject><Parameter name="x" value="y" /></Reject><Hangup><Parameter name="h" value="1" /></Hangup></Response>'
    )


def test_positional_arguments_follow_twilio_order() -> None:
    r = VoiceResponse()
    r.say("x", "alice", 2, "en-US")
    r.gather("dtmf", "/act")
    r.play("u", 2, "1w2")
    assert str(r) == (
        '<?xml version="1.0" encoding="UTF-8"?><Response><Say language="en-US" loop="2" voice="alice">x</Say><Gather action="/act" input="dtmf" /><Play digits="1w2" loop="2">u</Play></Response>'
    )


def test_numbers_and_booleans_as_attributes() -> None:
    r = VoiceResponse()
    r.dial(timeout=10.5, record=True, answer_on_bridge=False).number("+1", byoc=0)
    assert str(r) == (
        '<?xml version="1.0" encoding="UTF-8"?><Response><Dial answerOnBridge="false" record="true" timeout="10.5"><Number byoc="0">+1</Number></Dial></Response>'
    )


def test_nesting_something_that_is_not_twiml_or_text_is_refused() -> None:
    with pytest.raises(TwiMLException, match="Only nesting of TwiML and strings are allowed"):
        VoiceResponse().nest(5)


def test_a_non_text_value_fails_to_serialise_as_in_twilio() -> None:
    r = VoiceResponse()
    r.nest(Number(5551234))
    with pytest.raises(TypeError, match=r"cannot serialize 5551234 \(type int\)"):
        str(r)


def test_public_helpers() -> None:
    assert lower_camel("status_callback_event") == "statusCallbackEvent"
    assert lower_camel("timeout") == "timeout"
    assert lower_camel("") == ""
    assert format_language("en_us") == "en-US"
    assert format_language(None) is None
    with pytest.raises(TwiMLException, match=r"Invalid value for language parameter\."):
        format_language("english")


def test_generic_node_and_base_class() -> None:
    node = GenericNode("Custom", "v", a_b=1)
    assert isinstance(node, TwiML)
    assert node.to_xml(xml_declaration=False) == '<Custom aB="1">v</Custom>'
    element = VoiceResponse().say("hi").xml()
    assert (element.tag, element.text) == ("Say", "hi")


def test_a_dial_with_a_number_text_renders_the_number() -> None:
    assert Dial("+15551234567").to_xml(xml_declaration=False) == "<Dial>+15551234567</Dial>"


def test_unknown_keyword_arguments_become_attributes() -> None:
    assert VoiceResponse().gather(valid_digits="12").to_xml(False) == (
        '<Gather validDigits="12" />'
    )


def test_the_generated_voice_response_module_is_current() -> None:
    from pathlib import Path

    from twilio.twiml import _codegen

    committed = Path(_codegen.__file__).with_name("voice_response.py").read_text()
    assert committed == _codegen.formatted(), (
        "voice_response.py is stale: run "
        ".venv/bin/python -m twilio.twiml._codegen > twilio/twiml/voice_response.py"
    )


def test_an_extra_keyword_clashing_with_a_parameter_wins_as_in_twilio() -> None:
    r = VoiceResponse()
    r.gather(num_digits=1, numDigits=2, extra_thing=None, another_one="x")
    assert r.to_xml(False) == '<Response><Gather anotherOne="x" numDigits="2" /></Response>'
