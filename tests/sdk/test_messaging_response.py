"""twilio.twiml.messaging_response renders byte-identically to Twilio's SDK.

Each expected string is what twilio 9.13.0 itself printed for the same code
(a test vector, checked in)."""

from __future__ import annotations

from twilio.twiml.messaging_response import Body, Media, Message, MessagingResponse, Redirect

DECL = '<?xml version="1.0" encoding="UTF-8"?>'


def test_a_plain_message() -> None:
    response = MessagingResponse()
    response.message("The Robots are coming! Head for the hills!")
    assert str(response) == (
        DECL + "<Response><Message>The Robots are coming! Head for the hills!</Message></Response>"
    )


def test_a_message_with_body_and_media() -> None:
    response = MessagingResponse()
    message = Message()
    message.body("Hello World!")
    message.media("https://demo.twilio.com/owl.png")
    response.append(message)
    assert str(response) == (
        DECL + "<Response><Message><Body>Hello World!</Body>"
        "<Media>https://demo.twilio.com/owl.png</Media></Message></Response>"
    )


def test_redirect_with_and_without_method() -> None:
    response = MessagingResponse()
    response.redirect("https://demo.twilio.com/welcome/sms/")
    response.redirect("/next", method="GET")
    assert str(response) == (
        DECL + "<Response><Redirect>https://demo.twilio.com/welcome/sms/</Redirect>"
        '<Redirect method="GET">/next</Redirect></Response>'
    )


def test_message_attributes_are_camel_case_and_sorted() -> None:
    response = MessagingResponse()
    response.message(
        "Hello",
        to="+15558675310",
        from_="+15017122661",
        action="/SmsHandler.php",
        method="POST",
        status_callback="/status",
    )
    assert str(response) == (
        DECL + '<Response><Message action="/SmsHandler.php" from="+15017122661" method="POST" '
        'statusCallback="/status" to="+15558675310">Hello</Message></Response>'
    )


def test_empty_messages_and_extra_attributes() -> None:
    response = MessagingResponse(foo="bar")
    response.message()
    response.message("")
    response.message("x", send_as_mms=True, provide_feedback=False, custom_key="v")
    assert str(response) == (
        DECL + '<Response foo="bar"><Message /><Message />'
        '<Message customKey="v" provideFeedback="false" sendAsMms="true">x</Message></Response>'
    )


def test_escaping_unicode_and_no_declaration() -> None:
    response = MessagingResponse()
    message = response.message('Tom & Jerry <3 "quotes" é 😀', to='a"b&c')
    message.media("https://x/y?a=1&b=2")
    assert response.to_xml(xml_declaration=False) == (
        '<Response><Message to="a&quot;b&amp;c">Tom &amp; Jerry &lt;3 "quotes" é 😀'
        "<Media>https://x/y?a=1&amp;b=2</Media></Message></Response>"
    )


def test_text_after_nouns_and_classes_appended_directly() -> None:
    response = MessagingResponse()
    message = response.message()
    message.body("Hi")
    message.media("u1")
    message.media("u2")
    message.append("tail")
    response.append(Message("a"))
    response.append(Redirect("u"))
    response.nest(Body("b"))
    response.append(Media("m"))
    assert str(response) == (
        DECL + "<Response><Message><Body>Hi</Body><Media>u1</Media><Media>u2</Media>tail</Message>"
        "<Message>a</Message><Redirect>u</Redirect><Body>b</Body><Media>m</Media></Response>"
    )
