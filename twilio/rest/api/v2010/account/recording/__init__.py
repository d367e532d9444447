"""Twilio's module path for recordings; the classes live in ``twilio.rest.recordings``."""

from twilio.rest.recordings import RecordingInstance, RecordingList

__all__ = ["RecordingInstance", "RecordingList"]
