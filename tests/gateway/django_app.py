"""A Twilio voice IVR written as Django projects write them: function views
reading ``request.POST``, ``@csrf_exempt``, ``HttpResponse(str(resp),
content_type="text/xml")``, and the ``validate_twilio_request`` decorator from
Twilio's "Secure your Django project" tutorial (``request.build_absolute_uri()``,
``request.POST``, ``HTTP_X_TWILIO_SIGNATURE``, the token from the environment).

Django is configured in-process, minimally (``configure()``), with this module
as ROOT_URLCONF; ``wsgi_application()`` is what a WSGI server serves.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from functools import wraps
from typing import Any

import django
from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.core.wsgi import get_wsgi_application
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import Gather, VoiceResponse

# ------------------------------------------------------------------ what the views saw

_lock = threading.Lock()
SEEN: list[tuple[str, dict[str, str]]] = []


def seen(view: str) -> list[dict[str, str]]:
    with _lock:
        return [post for name, post in SEEN if name == view]


def forget() -> None:
    with _lock:
        SEEN.clear()


def _note(view: str, request: HttpRequest) -> None:
    with _lock:
        SEEN.append((view, request.POST.dict()))


# ------------------------------------------------------------------ Twilio's tutorial


def validate_twilio_request(f: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Validates that incoming requests genuinely originated from Twilio."""

    @wraps(f)
    def decorated_function(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        validator = RequestValidator(os.environ.get("TWILIO_AUTH_TOKEN", ""))
        request_valid = validator.validate(
            request.build_absolute_uri(),
            request.POST,
            request.META.get("HTTP_X_TWILIO_SIGNATURE", ""),
        )
        if request_valid:
            return f(request, *args, **kwargs)
        return HttpResponseForbidden()

    return decorated_function


# ------------------------------------------------------------------ the IVR


@require_POST
@csrf_exempt
def welcome(request: HttpRequest) -> HttpResponse:
    _note("welcome", request)
    resp = VoiceResponse()
    gather = Gather(num_digits=1, action="/ivr/menu/", timeout=30)
    gather.say(
        "Thanks for calling Owl Hardware. For store hours, press 1. For your order, press 2."
    )
    resp.append(gather)
    resp.say("We didn't receive any input. Goodbye!")
    return HttpResponse(str(resp), content_type="text/xml")


@require_POST
@csrf_exempt
@validate_twilio_request
def menu(request: HttpRequest) -> HttpResponse:
    _note("menu", request)
    resp = VoiceResponse()
    digits = request.POST["Digits"]
    if digits == "1":
        resp.say("We are open every day from nine to five.")
    elif digits == "2":
        caller = request.POST["From"]
        resp.say(f"Your order has shipped. We will text {caller[-4:]} when it arrives.")
    else:
        resp.say("Sorry, that is not an option.")
        resp.redirect("/ivr/welcome/")
    return HttpResponse(str(resp), content_type="text/xml")


urlpatterns = [
    path("ivr/welcome/", welcome),
    path("ivr/menu/", menu),
]


def configure() -> None:
    """Minimal settings, once per process (Django has one settings object)."""
    if settings.configured:
        return
    settings.configure(
        DEBUG=False,
        SECRET_KEY="corpus-tests-only-not-a-secret",
        ROOT_URLCONF=__name__,
        ALLOWED_HOSTS=["127.0.0.1", "localhost"],
        INSTALLED_APPS=[],
        MIDDLEWARE=[
            "django.middleware.security.SecurityMiddleware",
            "django.middleware.common.CommonMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
        ],
        USE_TZ=True,
        LOGGING_CONFIG=None,  # leave the test run's logging alone
    )
    django.setup()


def wsgi_application() -> WSGIHandler:
    configure()
    return get_wsgi_application()
