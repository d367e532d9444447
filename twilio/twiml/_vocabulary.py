"""The voice TwiML vocabulary of Twilio's Python SDK 9.x: every element, its
XML tag, the parameter that becomes its text, and the methods that nest
other elements (with Twilio's parameter order, for positional calls).

``_codegen.py`` renders ``voice_response.py`` from this table; a test checks
that the rendered file is current.
"""

from __future__ import annotations

# Parameter lists, in Twilio's order.
CONNECT_PARAMS = ("action", "method")
DIAL_PARAMS = (
    "number",
    "action",
    "method",
    "timeout",
    "hangup_on_star",
    "time_limit",
    "caller_id",
    "record",
    "trim",
    "recording_status_callback",
    "recording_configuration_id",
    "recording_status_callback_method",
    "recording_status_callback_event",
    "answer_on_bridge",
    "ring_tone",
    "recording_track",
    "sequential",
    "refer_url",
    "refer_method",
    "events",
    "passports",
)
ECHO_PARAMS = ()
ENQUEUE_PARAMS = (
    "name",
    "action",
    "max_queue_size",
    "method",
    "wait_url",
    "wait_url_method",
    "workflow_sid",
)
GATHER_PARAMS = (
    "input",
    "action",
    "method",
    "timeout",
    "speech_timeout",
    "max_speech_time",
    "profanity_filter",
    "finish_on_key",
    "num_digits",
    "partial_result_callback",
    "partial_result_callback_method",
    "language",
    "hints",
    "barge_in",
    "debug",
    "action_on_empty_result",
    "speech_model",
    "enhanced",
)
PAUSE_PARAMS = ("length",)
PLAY_PARAMS = ("url", "loop", "digits")
QUEUE_PARAMS = ("name", "url", "method", "reservation_sid", "post_work_activity_sid")
RECORD_PARAMS = (
    "action",
    "method",
    "timeout",
    "finish_on_key",
    "max_length",
    "play_beep",
    "trim",
    "recording_status_callback",
    "recording_status_callback_method",
    "recording_status_callback_event",
    "transcribe",
    "transcribe_callback",
    "recording_configuration_id",
)
REDIRECT_PARAMS = ("url", "method")
REJECT_PARAMS = ("reason",)
SAY_PARAMS = ("message", "voice", "loop", "language")
SMS_PARAMS = ("message", "to", "from_", "action", "method", "status_callback")
PAY_PARAMS = (
    "input",
    "action",
    "bank_account_type",
    "status_callback",
    "status_callback_method",
    "timeout",
    "max_attempts",
    "security_code",
    "postal_code",
    "min_postal_code_length",
    "payment_connector",
    "payment_method",
    "token_type",
    "charge_amount",
    "currency",
    "description",
    "valid_card_types",
    "language",
)
PROMPT_PARAMS = ("for_", "error_type", "card_type", "attempt", "require_matching_inputs")
SIP_PARAMS = ("sip_url",)
STREAM_PARAMS = (
    "name",
    "connector_name",
    "url",
    "track",
    "status_callback",
    "status_callback_method",
    "audio_format",
    "sample_rate",
)
SIPREC_PARAMS = ("name", "connector_name", "track", "status_callback", "status_callback_method")
TRANSCRIPTION_PARAMS = (
    "name",
    "track",
    "status_callback_url",
    "status_callback_method",
    "inbound_track_label",
    "outbound_track_label",
    "partial_results",
    "language_code",
    "transcription_engine",
    "profanity_filter",
    "speech_model",
    "hints",
    "enable_automatic_punctuation",
    "intelligence_service",
)
CONFIG_PARAMS = ("name", "value")
RECORDING_PARAMS = (
    "recording_status_callback",
    "recording_status_callback_method",
    "recording_status_callback_event",
    "trim",
    "track",
    "channels",
    "recording_configuration_id",
)
BREAK_PARAMS = ("strength", "time")
EMPHASIS_PARAMS = ("words", "level")
LANG_PARAMS = ("words", "xml_lang")
P_PARAMS = ("words",)
PHONEME_PARAMS = ("words", "alphabet", "ph")
PROSODY_PARAMS = ("words", "volume", "rate", "pitch")
SAY_AS_PARAMS = ("words", "interpret_as", "format")
SUB_PARAMS = ("words", "alias")
W_PARAMS = ("words", "role")
TASK_PARAMS = ("body", "priority", "timeout")
CLIENT_PARAMS = (
    "identity",
    "url",
    "method",
    "status_callback_event",
    "status_callback",
    "status_callback_method",
)
CONFERENCE_PARAMS = (
    "name",
    "muted",
    "beep",
    "start_conference_on_enter",
    "end_conference_on_exit",
    "wait_url",
    "wait_method",
    "max_participants",
    "record",
    "recording_configuration_id",
    "region",
    "coach",
    "trim",
    "status_callback_event",
    "status_callback",
    "status_callback_method",
    "recording_status_callback",
    "recording_status_callback_method",
    "recording_status_callback_event",
    "event_callback_url",
    "jitter_buffer_size",
    "participant_label",
)
NUMBER_PARAMS = (
    "phone_number",
    "send_digits",
    "url",
    "method",
    "status_callback_event",
    "status_callback",
    "status_callback_method",
    "byoc",
    "machine_detection",
    "amd_status_callback_method",
    "amd_status_callback",
    "machine_detection_timeout",
    "machine_detection_speech_threshold",
    "machine_detection_speech_end_threshold",
    "machine_detection_silence_timeout",
)
SIM_PARAMS = ("sim_sid",)
SIP_DIAL_PARAMS = (
    "sip_url",
    "username",
    "password",
    "url",
    "method",
    "status_callback_event",
    "status_callback",
    "status_callback_method",
    "machine_detection",
    "amd_status_callback_method",
    "amd_status_callback",
    "machine_detection_timeout",
    "machine_detection_speech_threshold",
    "machine_detection_speech_end_threshold",
    "machine_detection_silence_timeout",
)
APPLICATION_PARAMS = (
    "application_sid",
    "url",
    "method",
    "status_callback_event",
    "status_callback",
    "status_callback_method",
    "customer_id",
    "copy_parent_to",
)
WHATS_APP_PARAMS = (
    "phone_number",
    "url",
    "method",
    "status_callback_event",
    "status_callback",
    "status_callback_method",
)
APPLICATION_SID_PARAMS = ("sid",)
URI_PARAMS = ("sip_url", "priority", "weight", "username", "password")
IDENTITY_PARAMS = ("client_identity",)
ROOM_PARAMS = ("name", "participant_identity")
AUTOPILOT_PARAMS = ("name",)
VIRTUAL_AGENT_PARAMS = (
    "connector_name",
    "language",
    "sentiment_analysis",
    "status_callback",
    "status_callback_method",
)
CONVERSATION_PARAMS = (
    "service_instance_sid",
    "inbound_autocreation",
    "routing_assignment_timeout",
    "inbound_timeout",
    "url",
    "method",
    "record",
    "trim",
    "recording_status_callback",
    "recording_status_callback_method",
    "recording_status_callback_event",
    "status_callback",
    "status_callback_method",
    "status_callback_event",
)
CONVERSATION_RELAY_PARAMS = (
    "url",
    "language",
    "tts_language",
    "transcription_language",
    "tts_provider",
    "voice",
    "transcription_provider",
    "speech_model",
    "profanity_filter",
    "dtmf_detection",
    "welcome_greeting",
    "partial_prompts",
    "welcome_greeting_interruptible",
    "interruptible",
    "preemptible",
    "hints",
    "intelligence_service",
    "report_input_during_agent_speech",
    "elevenlabs_text_normalization",
    "interrupt_sensitivity",
    "debug",
    "backgroundNoiseReduction",
    "speechTimeout",
    "deepgramSmartFormat",
    "ignoreBackchannel",
    "events",
    "partial_prompt_on_hangup",
    "eager_eot_threshold",
    "asr_smart_format",
    "tts_text_normalization",
    "tts_language_text_normalization",
    "elevenlabs_language_text_normalization",
    "include_in_prompt",
    "customer_name",
    "application_reconnect",
    "echo_prompt_filtering",
    "turn_detection",
)
AI_SESSION_PARAMS = ("ai_connector", "ai_session_configuration")
RELAY_SESSION_PARAMS = ("connector", "session_configuration")
LANGUAGE_PARAMS = (
    "code",
    "tts_provider",
    "voice",
    "transcription_provider",
    "speech_model",
    "hints",
    "asr_smart_format",
    "tts_text_normalization",
    "tts_language_text_normalization",
)

# class name: (XML tag, text parameter or None, {method: (class, parameters)})
ELEMENTS: dict[str, tuple[str, str | None, dict[str, tuple[str, tuple[str, ...]]]]] = {
    "VoiceResponse": (
        "Response",
        None,
        {
            "connect": ("Connect", CONNECT_PARAMS),
            "dial": ("Dial", DIAL_PARAMS),
            "echo": ("Echo", ECHO_PARAMS),
            "enqueue": ("Enqueue", ENQUEUE_PARAMS),
            "gather": ("Gather", GATHER_PARAMS),
            "hangup": ("Hangup", ECHO_PARAMS),
            "leave": ("Leave", ECHO_PARAMS),
            "pause": ("Pause", PAUSE_PARAMS),
            "play": ("Play", PLAY_PARAMS),
            "queue": ("Queue", QUEUE_PARAMS),
            "record": ("Record", RECORD_PARAMS),
            "redirect": ("Redirect", REDIRECT_PARAMS),
            "reject": ("Reject", REJECT_PARAMS),
            "say": ("Say", SAY_PARAMS),
            "sms": ("Sms", SMS_PARAMS),
            "pay": ("Pay", PAY_PARAMS),
            "prompt": ("Prompt", PROMPT_PARAMS),
            "start": ("Start", CONNECT_PARAMS),
            "stop": ("Stop", ECHO_PARAMS),
            "refer": ("Refer", CONNECT_PARAMS),
        },
    ),
    "Refer": (
        "Refer",
        None,
        {
            "sip": ("ReferSip", SIP_PARAMS),
        },
    ),
    "ReferSip": ("Sip", "sip_url", {}),
    "Stop": (
        "Stop",
        None,
        {
            "stream": ("Stream", STREAM_PARAMS),
            "siprec": ("Siprec", SIPREC_PARAMS),
            "transcription": ("Transcription", TRANSCRIPTION_PARAMS),
        },
    ),
    "Transcription": (
        "Transcription",
        None,
        {
            "config": ("Config", CONFIG_PARAMS),
            "parameter": ("Parameter", CONFIG_PARAMS),
        },
    ),
    "Parameter": ("Parameter", None, {}),
    "Config": ("Config", None, {}),
    "Siprec": (
        "Siprec",
        None,
        {
            "parameter": ("Parameter", CONFIG_PARAMS),
        },
    ),
    "Stream": (
        "Stream",
        None,
        {
            "parameter": ("Parameter", CONFIG_PARAMS),
        },
    ),
    "Start": (
        "Start",
        None,
        {
            "stream": ("Stream", STREAM_PARAMS),
            "siprec": ("Siprec", SIPREC_PARAMS),
            "transcription": ("Transcription", TRANSCRIPTION_PARAMS),
            "recording": ("Recording", RECORDING_PARAMS),
        },
    ),
    "Recording": ("Recording", None, {}),
    "Prompt": (
        "Prompt",
        None,
        {
            "say": ("Say", SAY_PARAMS),
            "play": ("Play", PLAY_PARAMS),
            "pause": ("Pause", PAUSE_PARAMS),
        },
    ),
    "Pause": ("Pause", None, {}),
    "Play": ("Play", "url", {}),
    "Say": (
        "Say",
        "message",
        {
            "break_": ("SsmlBreak", BREAK_PARAMS),
            "emphasis": ("SsmlEmphasis", EMPHASIS_PARAMS),
            "lang": ("SsmlLang", LANG_PARAMS),
            "p": ("SsmlP", P_PARAMS),
            "phoneme": ("SsmlPhoneme", PHONEME_PARAMS),
            "prosody": ("SsmlProsody", PROSODY_PARAMS),
            "s": ("SsmlS", P_PARAMS),
            "say_as": ("SsmlSayAs", SAY_AS_PARAMS),
            "sub": ("SsmlSub", SUB_PARAMS),
            "w": ("SsmlW", W_PARAMS),
        },
    ),
    "SsmlW": (
        "w",
        "words",
        {
            "break_": ("SsmlBreak", BREAK_PARAMS),
            "emphasis": ("SsmlEmphasis", EMPHASIS_PARAMS),
            "phoneme": ("SsmlPhoneme", PHONEME_PARAMS),
            "prosody": ("SsmlProsody", PROSODY_PARAMS),
            "say_as": ("SsmlSayAs", SAY_AS_PARAMS),
            "sub": ("SsmlSub", SUB_PARAMS),
        },
    ),
    "SsmlSub": ("sub", "words", {}),
    "SsmlSayAs": ("say-as", "words", {}),
    "SsmlProsody": (
        "prosody",
        "words",
        {
            "break_": ("SsmlBreak", BREAK_PARAMS),
            "emphasis": ("SsmlEmphasis", EMPHASIS_PARAMS),
            "lang": ("SsmlLang", LANG_PARAMS),
            "p": ("SsmlP", P_PARAMS),
            "phoneme": ("SsmlPhoneme", PHONEME_PARAMS),
            "prosody": ("SsmlProsody", PROSODY_PARAMS),
            "s": ("SsmlS", P_PARAMS),
            "say_as": ("SsmlSayAs", SAY_AS_PARAMS),
            "sub": ("SsmlSub", SUB_PARAMS),
            "w": ("SsmlW", W_PARAMS),
        },
    ),
    "SsmlS": (
        "s",
        "words",
        {
            "break_": ("SsmlBreak", BREAK_PARAMS),
            "emphasis": ("SsmlEmphasis", EMPHASIS_PARAMS),
            "lang": ("SsmlLang", LANG_PARAMS),
            "phoneme": ("SsmlPhoneme", PHONEME_PARAMS),
            "prosody": ("SsmlProsody", PROSODY_PARAMS),
            "say_as": ("SsmlSayAs", SAY_AS_PARAMS),
            "sub": ("SsmlSub", SUB_PARAMS),
            "w": ("SsmlW", W_PARAMS),
        },
    ),
    "SsmlPhoneme": ("phoneme", "words", {}),
    "SsmlLang": (
        "lang",
        "words",
        {
            "break_": ("SsmlBreak", BREAK_PARAMS),
            "emphasis": ("SsmlEmphasis", EMPHASIS_PARAMS),
            "lang": ("SsmlLang", LANG_PARAMS),
            "p": ("SsmlP", P_PARAMS),
            "phoneme": ("SsmlPhoneme", PHONEME_PARAMS),
            "prosody": ("SsmlProsody", PROSODY_PARAMS),
            "s": ("SsmlS", P_PARAMS),
            "say_as": ("SsmlSayAs", SAY_AS_PARAMS),
            "sub": ("SsmlSub", SUB_PARAMS),
            "w": ("SsmlW", W_PARAMS),
        },
    ),
    "SsmlP": (
        "p",
        "words",
        {
            "break_": ("SsmlBreak", BREAK_PARAMS),
            "emphasis": ("SsmlEmphasis", EMPHASIS_PARAMS),
            "lang": ("SsmlLang", LANG_PARAMS),
            "phoneme": ("SsmlPhoneme", PHONEME_PARAMS),
            "prosody": ("SsmlProsody", PROSODY_PARAMS),
            "s": ("SsmlS", P_PARAMS),
            "say_as": ("SsmlSayAs", SAY_AS_PARAMS),
            "sub": ("SsmlSub", SUB_PARAMS),
            "w": ("SsmlW", W_PARAMS),
        },
    ),
    "SsmlEmphasis": (
        "emphasis",
        "words",
        {
            "break_": ("SsmlBreak", BREAK_PARAMS),
            "emphasis": ("SsmlEmphasis", EMPHASIS_PARAMS),
            "lang": ("SsmlLang", LANG_PARAMS),
            "phoneme": ("SsmlPhoneme", PHONEME_PARAMS),
            "prosody": ("SsmlProsody", PROSODY_PARAMS),
            "say_as": ("SsmlSayAs", SAY_AS_PARAMS),
            "sub": ("SsmlSub", SUB_PARAMS),
            "w": ("SsmlW", W_PARAMS),
        },
    ),
    "SsmlBreak": ("break", None, {}),
    "Pay": (
        "Pay",
        None,
        {
            "prompt": ("Prompt", PROMPT_PARAMS),
            "parameter": ("Parameter", CONFIG_PARAMS),
        },
    ),
    "Sms": ("Sms", "message", {}),
    "Reject": (
        "Reject",
        None,
        {
            "parameter": ("Parameter", CONFIG_PARAMS),
        },
    ),
    "Redirect": ("Redirect", "url", {}),
    "Record": ("Record", None, {}),
    "Queue": ("Queue", "name", {}),
    "Leave": ("Leave", None, {}),
    "Hangup": (
        "Hangup",
        None,
        {
            "parameter": ("Parameter", CONFIG_PARAMS),
        },
    ),
    "Gather": (
        "Gather",
        None,
        {
            "say": ("Say", SAY_PARAMS),
            "pause": ("Pause", PAUSE_PARAMS),
            "play": ("Play", PLAY_PARAMS),
        },
    ),
    "Enqueue": (
        "Enqueue",
        "name",
        {
            "task": ("Task", TASK_PARAMS),
        },
    ),
    "Task": ("Task", "body", {}),
    "Echo": ("Echo", None, {}),
    "Dial": (
        "Dial",
        "number",
        {
            "client": ("Client", CLIENT_PARAMS),
            "conference": ("Conference", CONFERENCE_PARAMS),
            "number": ("Number", NUMBER_PARAMS),
            "queue": ("Queue", QUEUE_PARAMS),
            "sim": ("Sim", SIM_PARAMS),
            "sip": ("Sip", SIP_DIAL_PARAMS),
            "application": ("Application", APPLICATION_PARAMS),
            "whats_app": ("WhatsApp", WHATS_APP_PARAMS),
        },
    ),
    "WhatsApp": ("WhatsApp", "phone_number", {}),
    "Application": (
        "Application",
        "application_sid",
        {
            "application_sid": ("ApplicationSid", APPLICATION_SID_PARAMS),
            "parameter": ("Parameter", CONFIG_PARAMS),
        },
    ),
    "ApplicationSid": ("ApplicationSid", "sid", {}),
    "Sip": (
        "Sip",
        "sip_url",
        {
            "uri": ("SipUri", URI_PARAMS),
            "headers": ("Headers", ECHO_PARAMS),
        },
    ),
    "Headers": (
        "Headers",
        None,
        {
            "header": ("Header", CONFIG_PARAMS),
        },
    ),
    "Header": ("Header", None, {}),
    "SipUri": ("Uri", "sip_url", {}),
    "Sim": ("Sim", "sim_sid", {}),
    "Number": ("Number", "phone_number", {}),
    "Conference": ("Conference", "name", {}),
    "Client": (
        "Client",
        "identity",
        {
            "identity": ("Identity", IDENTITY_PARAMS),
            "parameter": ("Parameter", CONFIG_PARAMS),
        },
    ),
    "Identity": ("Identity", "client_identity", {}),
    "Connect": (
        "Connect",
        None,
        {
            "room": ("Room", ROOM_PARAMS),
            "autopilot": ("Autopilot", AUTOPILOT_PARAMS),
            "stream": ("Stream", STREAM_PARAMS),
            "virtual_agent": ("VirtualAgent", VIRTUAL_AGENT_PARAMS),
            "conversation": ("Conversation", CONVERSATION_PARAMS),
            "conversation_relay": ("ConversationRelay", CONVERSATION_RELAY_PARAMS),
            "ai_session": ("AiSession", AI_SESSION_PARAMS),
            "conversation_relay_session": ("ConversationRelaySession", RELAY_SESSION_PARAMS),
        },
    ),
    "ConversationRelaySession": ("ConversationRelaySession", None, {}),
    "AiSession": ("AiSession", None, {}),
    "ConversationRelay": (
        "ConversationRelay",
        None,
        {
            "language": ("Language", LANGUAGE_PARAMS),
            "parameter": ("Parameter", CONFIG_PARAMS),
        },
    ),
    "Language": ("Language", None, {}),
    "Conversation": ("Conversation", None, {}),
    "VirtualAgent": (
        "VirtualAgent",
        None,
        {
            "config": ("Config", CONFIG_PARAMS),
            "parameter": ("Parameter", CONFIG_PARAMS),
        },
    ),
    "Autopilot": ("Autopilot", "name", {}),
    "Room": ("Room", "name", {}),
}
