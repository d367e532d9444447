"""TwiML documents, byte-identical to Twilio's SDK output.

Twilio builds an ElementTree and serialises it; we write the same bytes
directly (several times faster): the XML declaration, attributes sorted by
name, snake_case -> camelCase names (with Twilio's special cases), booleans as
``true``/``false``, ``None`` dropped, empty elements as ``<X />``, and
ElementTree's own escaping rules.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any, ClassVar, Literal

XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>'


def _fallback_escape_cdata(text: Any) -> str:
    try:
        return str(text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))
    except (TypeError, AttributeError):
        raise TypeError(f"cannot serialize {text!r} (type {type(text).__name__})") from None


def _fallback_escape_attrib(text: str) -> str:
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = text.replace('"', "&quot;").replace("\r", "&#13;").replace("\n", "&#10;")
    return text.replace("\t", "&#09;")


# ElementTree's own escapers, so output matches Twilio's on every Python version
# (their rules for \r, \n and \t in attributes have changed between releases).
_escape_cdata: Callable[[Any], str] = getattr(ET, "_escape_cdata", _fallback_escape_cdata)
_escape_attrib: Callable[[str], str] = getattr(ET, "_escape_attrib", _fallback_escape_attrib)

_CAMEL: dict[str, str] = {}
# Escaped attribute fragments and texts, by exact str value: TwiML repeats
# values ("POST", "1", "#") constantly. Bounded; cleared when full.
_CACHE_LIMIT = 4096
_ATTR_CACHE: dict[tuple[str, str], str] = {}
_TEXT_CACHE: dict[str, str] = {}

# Called with (document, xml) whenever a <Response> is rendered; twilio.webhook
# sets it to run TwiML rendered inside a Kaphila webhook (see that module).
_render_hook: Callable[[TwiML, str], None] | None = None


def set_render_hook(hook: Callable[[TwiML, str], None] | None) -> None:
    global _render_hook
    _render_hook = hook


def lower_camel(string: str) -> str:
    if not string or "_" not in string:
        return string
    result = "".join([x.title() for x in string.split("_")])
    return result[0].lower() + result[1:]


def format_language(language: str | None) -> str | None:
    """Attempt to format language parameter as 'ww-WW'."""
    if not language:
        return language
    if not re.match("^[a-zA-Z]{2}[_-][a-zA-Z]{2}$", language):
        raise TwiMLException("Invalid value for language parameter.")
    return language[0:2].lower() + "-" + language[3:5].upper()


class TwiMLException(Exception):
    pass


class TwiML:
    MAP: ClassVar[dict[str, str]] = {
        "from_": "from",
        "xml_lang": "xml:lang",
        "interpret_as": "interpret-as",
        "for_": "for",
        "break_": "break",
    }
    # The XML element name; classes whose name differs set it.
    TAG: str | None = None

    def __init__(self, **kwargs: Any) -> None:
        self.name: str = self.TAG or type(self).__name__
        self.value: Any = None
        self.verbs: list[TwiML | str] = []
        self.attrs: dict[str, Any] = {}
        if kwargs:
            self.add_attributes(kwargs)

    def add_attributes(self, kwargs: dict[str, Any]) -> None:
        """Add keyword arguments as attributes, Twilio's way (None dropped)."""
        attrs = self.attrs
        for key, value in kwargs.items():
            if value is not None:
                attrs[_CAMEL[key] if key in _CAMEL else self._camel(key)] = value

    @classmethod
    def _camel(cls, key: str) -> str:
        name = _CAMEL[key] = lower_camel(cls.MAP.get(key, key))
        return name

    def __str__(self) -> str:
        return self.to_xml()

    def __enter__(self) -> TwiML:
        return self

    def __exit__(self, exc_type: object, exc_value: object, traceback: object) -> Literal[False]:
        return False

    def to_xml(self, xml_declaration: bool = True) -> str:
        """Return the contents of this verb as an XML string."""
        xml = self.render(xml_declaration)
        if _render_hook is not None and self.name == "Response":
            _render_hook(self, xml)
        return xml

    def render(self, xml_declaration: bool = True) -> str:
        """``to_xml`` without telling anyone (the SDK's own use)."""
        out: list[str] = []
        self._write(out)
        xml = "".join(out)
        if not xml.isascii():
            # ElementTree encodes to UTF-8 with character references for what cannot
            # be encoded (lone surrogates); do the same.
            xml = xml.encode("utf-8", "xmlcharrefreplace").decode("utf-8")
        return XML_DECLARATION + xml if xml_declaration else xml

    def append(self, verb: TwiML | str) -> TwiML:
        """Add a TwiML doc; returns self."""
        self.nest(verb)
        return self

    def nest(self, verb: Any) -> Any:
        """Add a TwiML doc; returns the added verb."""
        if not isinstance(verb, TwiML) and not isinstance(verb, str):
            raise TwiMLException("Only nesting of TwiML and strings are allowed")
        self.verbs.append(verb)
        return verb

    def add_child(self, name: str, value: Any = None, **kwargs: Any) -> GenericNode:
        node: GenericNode = self.nest(GenericNode(name, value, **kwargs))
        return node

    def xml(self) -> ET.Element:
        """This document as an ElementTree element (Twilio's API)."""
        # Parses our own output, never outside input.
        return ET.fromstring(self.to_xml(xml_declaration=False))  # noqa: S314

    def _write(self, out: list[str]) -> None:
        name = self.name
        out.append("<" + name)
        attrs = self.attrs
        if attrs:
            for key in sorted(attrs):
                out.append(_attribute(key, attrs[key]))
        # ElementTree semantics: a later string replaces the text or the last
        # child's tail; a falsy value writes no text; a dict value becomes JSON.
        text: Any = None
        if self.value:
            if isinstance(self.value, dict):
                self.value = json.dumps(self.value)
            text = self.value
        verbs = self.verbs
        if not verbs:
            if text:
                out.append(">")
                out.append(_text(text))
                out.append("</" + name + ">")
            else:
                out.append(" />")
            return
        children: list[list[Any]] = []
        for verb in verbs:
            if isinstance(verb, str):
                if children:
                    children[-1][1] = verb
                else:
                    text = verb
            else:
                children.append([verb, None])
        if text or children:
            out.append(">")
            if text:
                out.append(_text(text))
            for child, tail in children:
                child._write(out)
                if tail:
                    out.append(_text(tail))
            out.append("</" + name + ">")
        else:
            out.append(" />")


def _attribute(key: str, value: Any) -> str:
    if type(value) is str:
        fragment = _ATTR_CACHE.get((key, value))
        if fragment is None:
            if len(_ATTR_CACHE) >= _CACHE_LIMIT:
                _ATTR_CACHE.clear()
            fragment = _ATTR_CACHE[(key, value)] = f' {key}="{_escape_attrib(value)}"'
        return fragment
    shown = str(value).lower() if isinstance(value, bool) else str(value)
    return f' {key}="{_escape_attrib(shown)}"'


def _text(text: Any) -> str:
    if type(text) is not str:
        return _escape_cdata(text)  # raises TypeError for non-text, as ElementTree does
    escaped = _TEXT_CACHE.get(text)
    if escaped is None:
        if len(_TEXT_CACHE) >= _CACHE_LIMIT:
            _TEXT_CACHE.clear()
        escaped = _TEXT_CACHE[text] = _escape_cdata(text)
    return escaped


class GenericNode(TwiML):
    def __init__(self, name: str, value: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.name = name
        self.value = value
