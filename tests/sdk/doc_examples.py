"""The SDK document's examples, verbatim (only wrapped in factories so that
several Flask apps can live in one module). Each handler keeps the one
``WebhookHelper.process_webhook`` line the document tells users to add.

``client = Client()`` reads TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN /
KAPHILA_BASE_URL from the environment, as the document's "Method 2" does; the
tests set those to the sandbox before calling ``make_client()``.
"""
# ruff: noqa: F841, F541 - the document's code, kept as written

import time

from flask import Flask, request

from twilio import TwilioException, TwilioRestException, WebhookHelper
from twilio.rest import Client
from twilio.twiml.voice_response import VoiceResponse

client = None


def make_client():
    global client
    client = Client()
    return client


# --- Basic IVR System -------------------------------------------------------
def basic_ivr_app():
    app = Flask(__name__)

    @app.route("/voice", methods=["POST"])
    def main_menu():
        form_data = WebhookHelper.process_webhook(request.get_json(), client)

        response = VoiceResponse()
        response.say("Welcome to Acme Company")

        gather = response.gather(num_digits=1, action="/handle-menu", timeout=8)
        gather.say("For sales, press 1")
        gather.pause(1)
        gather.say("For support, press 2")
        gather.pause(1)
        gather.say("For operator, press 0")

        response.say("Connecting to operator")
        return str(response)

    @app.route("/handle-menu", methods=["POST"])
    def handle_menu():
        form_data = WebhookHelper.process_webhook(request.get_json(), client)
        digit = form_data.get("Digits", "")

        response = VoiceResponse()

        if digit == "1":
            response.say("Sales department")
            gather = response.gather(num_digits=1, action="/sales-menu")
            gather.say("For new customers press 1, existing customers press 2")

        elif digit == "2":
            response.say("Technical support")
            response.say("Please hold while we connect you")

        elif digit == "0":
            response.say("Connecting to operator")

        else:
            response.say("Invalid selection")
            response.redirect("/voice")

        return str(response)

    return app


# --- Voicemail System -------------------------------------------------------
def voicemail_app():
    app = Flask(__name__)

    @app.route("/voicemail", methods=["POST"])
    def voicemail():
        # The one line the document's migration guide says to add to a handler:
        form_data = WebhookHelper.process_webhook(request.get_json(), client)
        response = VoiceResponse()
        response.say("You've reached our voicemail system")
        response.say("Please leave a detailed message after the beep")
        response.say("Press pound when you're finished")

        response.record(
            max_length=120,  # 2 minutes max
            finish_on_key="#",  # End on pound
            play_beep=True,  # Play beep before recording
            action="/voicemail-done",  # Process recording
            transcribe=True,  # Enable transcription
            transcribe_callback="/transcription-ready",
        )

        response.say("We didn't receive your message. Please try again.")
        response.hangup()

        return str(response)

    @app.route("/voicemail-done", methods=["POST"])
    def voicemail_complete():
        form_data = WebhookHelper.process_webhook(request.get_json(), client)

        recording_url = form_data.get("RecordingUrl")
        duration = form_data.get("RecordingDuration", "0")

        response = VoiceResponse()

        if recording_url and int(duration) > 2:
            response.say(f"Thank you for your {duration} second message")
            response.say("We'll get back to you within 24 hours")
        else:
            response.say("Your message was too short. Please call back.")

        response.say("Goodbye!")
        response.hangup()

        return str(response)

    return app


# --- Answering Machine Detection --------------------------------------------
def amd_app():
    app = Flask(__name__)

    @app.route("/webhook", methods=["POST"])
    def handle_amd():
        form_data = WebhookHelper.process_webhook(request.get_json(), client)
        answered_by = form_data.get("AnsweredBy")

        response = VoiceResponse()

        if answered_by == "human":
            response.say("Hello! Thanks for picking up.")
            gather = response.gather(num_digits=1)
            gather.say("Press 1 for sales, 2 for support")

        elif answered_by == "machine":
            response.say("Hi, please call us back during business hours.")
            response.hangup()

        elif answered_by == "unknown":
            response.say("Hello? If you can hear this, press any key.")
            response.gather(num_digits=1, timeout=3)

        return str(response)

    return app


# --- Single Digit DTMF Events -----------------------------------------------
def single_digit_app():
    app = Flask(__name__)

    @app.route("/single-digit", methods=["POST"])
    def handle_single_digit():
        form_data = WebhookHelper.process_webhook(request.get_json(), client)
        digit = form_data.get("Digits", "")

        response = VoiceResponse()

        # Immediate response to each digit
        digit_responses = {
            "1": "Sales department - please hold",
            "2": "Technical support - transferring now",
            "3": "Billing department - one moment",
            "*": "Returning to main menu",
            "#": "Goodbye!",
            "0": "Connecting to operator",
        }

        if digit in digit_responses:
            response.say(digit_responses[digit])

            if digit == "#":
                response.hangup()
            elif digit == "*":
                response.redirect("/main-menu")
        else:
            response.say(f"You pressed {digit}")

        return str(response)

    return app


# --- Call Campaign Management -----------------------------------------------
def bulk_call_campaign():
    """Launch a bulk calling campaign"""

    phone_numbers = ["+15551234567", "+15551234568", "+15551234569", "+15551234570"]

    successful_calls = []
    failed_calls = []

    for i, number in enumerate(phone_numbers):
        try:
            print(f"Calling {i + 1}/{len(phone_numbers)}: {number}")

            call = client.calls.create(
                to=number,
                from_="+15559876543",
                url="https://yourserver.com/campaign-message",
                machine_detection="enable",
                status_callback="https://yourserver.com/call-status",
                status_callback_event=["initiated", "answered", "completed"],
            )

            successful_calls.append({"number": number, "call_sid": call.sid, "status": call.status})

            print(f"✓ Call created: {call.sid}")

            # Rate limiting - be respectful
            time.sleep(3)  # 3 second delay between calls

        except TwilioRestException as e:
            failed_calls.append({"number": number, "error": e.msg, "code": e.code})
            print(f"✗ Failed: {e.msg}")

        except Exception as e:
            failed_calls.append({"number": number, "error": str(e)})
            print(f"✗ Error: {e}")

    print(f"\nCampaign Results:")
    print(f"Successful: {len(successful_calls)}")
    print(f"Failed: {len(failed_calls)}")

    return successful_calls, failed_calls


# --- Exception Handling -----------------------------------------------------
def exception_handling_example():
    try:
        call = client.calls.create(to="+invalid", from_="+15551234567")
    except TwilioRestException as e:
        print(f"API Error: {e.msg}")
        print(f"Error Code: {e.code}")
        print(f"Status Code: {e.status}")

        if e.code == 20003:
            print("Authentication failed")
        elif e.code == 20429:
            print("Rate limit exceeded or insufficient credits")

    except TwilioException as e:
        print(f"General Twilio error: {e.msg}")
