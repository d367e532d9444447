"""Themes: every colour comes from console/qt/palette.py, every text colour is
readable on its background (WCAG AA) in both palettes, and the console follows
the Light / Dark / System setting."""

from __future__ import annotations

import io
import re
import tokenize
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QObject, QPoint, Qt, Signal
from PySide6.QtGui import QGuiApplication, QImage, QPalette
from PySide6.QtWidgets import QApplication, QFrame, QWidget

from console.config import SANDBOX_PROFILE, Profile, Settings, load, save
from console.core.calls import CallStatus
from console.core.reducer import LogEntry, Note, State
from console.qt.main_window import MainWindow, WindowServices
from console.qt.palette import DARK, LIGHT, Palette, qss
from console.qt.settings_dialog import SettingsDialog
from console.qt.theme import Theme, apply_theme

SANDBOX = Profile(SANDBOX_PROFILE, sandbox=True, caller_ids=("+14155550134",))
ROOT = Path(__file__).resolve().parents[2]
PALETTE_MODULE = ROOT / "console" / "qt" / "palette.py"
SCANNED = (ROOT / "console", ROOT / "resources")
# The app icon is artwork: one picture, drawn the same in both themes.
ARTWORK = (ROOT / "resources" / "icons",)

# SVG 1.1 colour keywords: QColor and Qt style sheets accept every one of them.
_SVG_COLOUR_NAMES = """
aliceblue antiquewhite aqua aquamarine azure beige bisque black blanchedalmond blue
blueviolet brown burlywood cadetblue chartreuse chocolate coral cornflowerblue cornsilk
crimson cyan darkblue darkcyan darkgoldenrod darkgray darkgreen darkgrey darkkhaki
darkmagenta darkolivegreen darkorange darkorchid darkred darksalmon darkseagreen
darkslateblue darkslategray darkslategrey darkturquoise darkviolet deeppink deepskyblue
dimgray dimgrey dodgerblue firebrick floralwhite forestgreen fuchsia gainsboro ghostwhite
gold goldenrod gray grey green greenyellow honeydew hotpink indianred indigo ivory khaki
lavender lavenderblush lawngreen lemonchiffon lightblue lightcoral lightcyan
lightgoldenrodyellow lightgray lightgreen lightgrey lightpink lightsalmon lightseagreen
lightskyblue lightslategray lightslategrey lightsteelblue lightyellow lime limegreen linen
magenta maroon mediumaquamarine mediumblue mediumorchid mediumpurple mediumseagreen
mediumslateblue mediumspringgreen mediumturquoise mediumvioletred midnightblue mintcream
mistyrose moccasin navajowhite navy oldlace olive olivedrab orange orangered orchid
palegoldenrod palegreen paleturquoise palevioletred papayawhip peachpuff peru pink plum
powderblue purple red rosybrown royalblue saddlebrown salmon sandybrown seagreen seashell
sienna silver skyblue slateblue slategray slategrey snow springgreen steelblue tan teal
thistle tomato turquoise violet wheat white whitesmoke yellow yellowgreen
"""
COLOUR_NAMES = frozenset(_SVG_COLOUR_NAMES.split())
# Qt.GlobalColor's members (PySide6 also accepts them as Qt.red and so on).
_GLOBAL_COLOUR_NAMES = """
white black red darkRed green darkGreen blue darkBlue cyan darkCyan magenta darkMagenta
yellow darkYellow gray darkGray lightGray color0 color1
"""
GLOBAL_COLOURS = frozenset(_GLOBAL_COLOUR_NAMES.split())
HEX = re.compile(r"#(?:[0-9a-fA-F]{8}|[0-9a-fA-F]{6}|[0-9a-fA-F]{3,4})\b")
FUNCTION = re.compile(r"\b(?:rgba?|hsla?|hsva?)\s*\(", re.IGNORECASE)
COLOUR_PROPERTY = (
    r"(?:color|background(?:-color)?|border(?:-[a-z]+)*|outline(?:-color)?"
    r"|selection-color|selection-background-color"
    r"|alternate-background-color|gridline-color)"
)
DECLARATION = re.compile(rf"(?<![\w-]){COLOUR_PROPERTY}\s*:\s*([^;{{}}\"']*)", re.IGNORECASE)
COLOUR_SETTERS = frozenset(
    {
        "setNamedColor",
        "setRgb",
        "setRgbF",
        "setRgba",
        "setHsv",
        "setHsvF",
        "setHsl",
        "setHslF",
        "setCmyk",
        "setCmykF",
    }
)


def colour_literals(text: str) -> Iterator[str]:
    """Colour literals in style-sheet-like text: hex, rgb()/hsl()/hsv(), or an SVG
    colour name as the value of a colour property."""
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.DOTALL)
    yield from (m.group(0) for m in HEX.finditer(text))
    yield from (m.group(0) + "…)" for m in FUNCTION.finditer(text))
    for match in DECLARATION.finditer(text):
        value = re.sub(r"\$\{?\w+\}?", "", match.group(1))  # template placeholders
        yield from (
            f"{match.group(0).strip()}"
            for word in re.findall(r"[A-Za-z]+", value)
            if word.lower() in COLOUR_NAMES
        )


def python_colour_literals(source: str) -> Iterator[str]:
    """Colour literals in Python: in strings (as above), QColor built from literal
    values, Qt.GlobalColor members, and QColor's literal setters."""
    tokens = [
        t
        for t in tokenize.generate_tokens(io.StringIO(source).readline)
        if t.type
        not in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT)
    ]
    for i, token in enumerate(tokens):
        after = tokens[i + 1 : i + 3]
        where = f"line {token.start[0]}: "
        if token.type == tokenize.STRING:
            yield from (where + found for found in colour_literals(token.string))
        elif token.type != tokenize.NAME:
            continue
        elif token.string in ("GlobalColor", "QColorConstants"):
            yield where + token.string
        elif (
            token.string == "Qt"
            and len(after) == 2
            and after[0].string == "."
            and after[1].string in GLOBAL_COLOURS
        ):
            yield where + f"Qt.{after[1].string}"
        elif (
            token.string == "QColor"
            and len(after) == 2
            and after[0].string == "("
            and after[1].type in (tokenize.STRING, tokenize.NUMBER)
        ):
            yield where + f"QColor({after[1].string})"
        elif (
            token.string == "QColor"
            and len(after) == 2
            and after[0].string == "."
            and after[1].string.startswith("from")
        ):
            yield where + f"QColor.{after[1].string}"
        elif token.string in COLOUR_SETTERS and after and after[0].string == "(":
            yield where + token.string


def literals_in_tree(
    roots: tuple[Path, ...] = SCANNED, exempt: tuple[Path, ...] = (PALETTE_MODULE, *ARTWORK)
) -> list[str]:
    found = []
    for root in roots:
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            if any(path == e or e in path.parents for e in exempt) or "__pycache__" in path.parts:
                continue
            try:
                text = path.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                continue  # pictures (screenshots)
            scan = python_colour_literals if path.suffix == ".py" else colour_literals
            found += [f"{path.relative_to(root.parent)}: {hit}" for hit in scan(text)]
    return found


def test_no_colour_literal_outside_the_palette_module() -> None:
    assert literals_in_tree() == []


@pytest.mark.parametrize(
    "source",
    [
        'STYLE = "QLabel { color: #b91c1c; }"',
        'STYLE = "QLabel { background: #fff }"',
        'ALPHA = "#11223344"',
        'w.setStyleSheet("color: rgb(255, 0, 0)")',
        'w.setStyleSheet("background-color: rgba(0,0,0,50%)")',
        'w.setStyleSheet("QPushButton { color: white; }")',
        'w.setStyleSheet("border: 1px solid DarkGray")',
        'brush = QColor("red")',
        "brush = QColor(12, 34, 56)",
        "brush = QColor.fromRgb(1, 2, 3)",
        "item.setForeground(Qt.GlobalColor.darkYellow)",
        "item.setForeground(Qt.red)",
        "colour.setNamedColor(name)",
        "from PySide6.QtGui import QColorConstants",
    ],
)
def test_the_literal_check_finds_each_kind_of_colour_literal(source: str) -> None:
    assert list(python_colour_literals(source + "\n")), source


@pytest.mark.parametrize(
    "text",
    [
        "QLabel#warning { color: #b91c1c; }",
        "QPushButton#dial { color: white; }",
        "QFrame { border: 1px solid rgb(1, 2, 3); }",
        "QFrame { background-color: Navy }",
    ],
)
def test_the_literal_check_reads_style_sheets(text: str) -> None:
    assert list(colour_literals(text)), text


@pytest.mark.parametrize(
    "source",
    [
        "# a comment may say #fff or white\nx = 1\n",
        'KEYS = "123456789*0#"\n',
        'w.setStyleSheet("QLabel { color: $danger; font-weight: 600; }")\n',
        'LABEL = "Red alert: the call failed"\n',
        "brush = QColor(palette.danger)\n",
    ],
)
def test_the_literal_check_passes_what_is_not_a_colour_literal(source: str) -> None:
    assert list(python_colour_literals(source)) == []


def test_the_literal_check_fails_on_a_planted_file(tmp_path: Path) -> None:
    (tmp_path / "console").mkdir()
    (tmp_path / "console" / "widget.py").write_text(
        "from PySide6.QtCore import Qt\nLATE = Qt.GlobalColor.darkYellow\n", encoding="utf-8"
    )
    (tmp_path / "style.qss").write_text("QLabel { color: white; }\n", encoding="utf-8")
    found = literals_in_tree((tmp_path,), exempt=())
    assert len(found) == 2, found


# ------------------------------------------------------------------ contrast (WCAG 2.x)


def _rgba(colour: str) -> tuple[float, float, float, float]:
    digits = colour.lstrip("#")
    if len(digits) in (3, 4):
        digits = "".join(d * 2 for d in digits)
    channels = [int(digits[i : i + 2], 16) / 255 for i in range(0, len(digits), 2)]
    return (channels[0], channels[1], channels[2], channels[3] if len(channels) == 4 else 1.0)


def _over(fg: str, bg: tuple[float, float, float]) -> tuple[float, float, float]:
    r, g, b, a = _rgba(fg)
    return (r * a + bg[0] * (1 - a), g * a + bg[1] * (1 - a), b * a + bg[2] * (1 - a))


def _luminance(rgb: tuple[float, float, float]) -> float:
    def linear(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(fg: str, bg: str, under: str = "#ffffff") -> float:
    """WCAG 2.x contrast ratio of ``fg`` drawn on ``bg``; a translucent background
    is first composited over ``under`` (the window), a translucent text over the result."""
    base = _over(bg, _over(under, (1.0, 1.0, 1.0)))
    lighter, darker = sorted((_luminance(_over(fg, base)), _luminance(base)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def test_the_contrast_ratio_is_wcag_s() -> None:
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#ffffff", "#ffffff") == pytest.approx(1.0)
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)  # just fails AA
    # Half-transparent black on white is the grey between them.
    assert contrast("#00000080", "#ffffff") == pytest.approx(contrast("#7f7f7f", "#ffffff"))


def _palettes() -> list[object]:
    from console.qt.palette import PALETTES

    return [pytest.param(p, id=name) for name, p in PALETTES.items()]


def poor_pairs(palette: Any) -> list[str]:
    """The declared pairs that miss WCAG AA (4.5:1) in ``palette``."""
    from console.qt.palette import PAIRS

    poor = []
    for pair in PAIRS:
        fg, bg = palette.colour(pair.fg), palette.colour(pair.bg)
        ratio = contrast(fg, bg, palette.window)
        if ratio < 4.5:
            poor.append(f"{pair.fg} {fg} on {pair.bg} {bg} ({pair.where}): {ratio:.2f}")
    return poor


@pytest.mark.parametrize("palette", _palettes())
def test_every_text_colour_in_use_is_readable_on_its_background(palette: Any) -> None:
    assert poor_pairs(palette) == []


def test_the_contrast_check_catches_a_poor_pair() -> None:
    from dataclasses import replace

    from console.qt.palette import DARK, LIGHT

    assert poor_pairs(replace(LIGHT, muted_text="#9ca3af"))  # the old disabled grey
    assert poor_pairs(replace(DARK, surface=DARK.text))  # issue 11: white on white


def test_both_palettes_name_the_same_roles_and_every_call_status() -> None:
    from console.core.calls import CallStatus
    from console.qt.palette import DARK, LIGHT

    assert LIGHT.roles().keys() == DARK.roles().keys()
    assert set(LIGHT.status) == set(DARK.status) == set(CallStatus)


def _rules(template: str) -> list[dict[str, str]]:
    """The template's rules as {property: role} (colour properties only)."""
    template = re.sub(r"/\*.*?\*/", "", template, flags=re.DOTALL)
    return [
        dict(re.findall(r"([\w-]+)\s*:\s*[^;]*?\$(\w+)", body))
        for body in re.findall(r"\{([^}]*)\}", template)
    ]


def test_the_pairs_cover_every_text_and_background_the_style_sheet_sets() -> None:
    from console.qt.palette import PAIRS, TEMPLATE

    pairs = {(p.fg, p.bg) for p in PAIRS}
    rules = _rules(TEMPLATE.read_text(encoding="utf-8"))
    fgs = {r[k] for r in rules for k in ("color", "selection-color") if k in r}
    bgs = {
        r[k]
        for r in rules
        for k in (
            "background",
            "background-color",
            "selection-background-color",
            "alternate-background-color",
        )
        if k in r
    }
    assert fgs
    assert bgs
    assert fgs <= {fg for fg, _ in pairs}
    assert bgs <= {bg for _, bg in pairs}
    together = {(r["color"], r["background"]) for r in rules if "color" in r and "background" in r}
    assert together <= pairs


def test_the_pairs_cover_qt_s_own_text_roles() -> None:
    from PySide6.QtGui import QPalette

    from console.qt.palette import PAIRS, QT_ROLES

    role = QPalette.ColorRole
    text_on = (
        (role.WindowText, role.Window),
        (role.Text, role.Base),
        (role.Text, role.AlternateBase),
        (role.ButtonText, role.Button),
        (role.PlaceholderText, role.Base),
        (role.HighlightedText, role.Highlight),
        (role.ToolTipText, role.ToolTipBase),
        (role.Link, role.Base),
    )
    ours = {qt: (normal, disabled) for qt, normal, disabled in QT_ROLES}
    pairs = {(p.fg, p.bg) for p in PAIRS}
    for group in (0, 1):  # normal, disabled
        for fg, bg in text_on:
            assert (ours[fg][group], ours[bg][group]) in pairs, (fg, bg, group)


# ------------------------------------------------------------------ the style sheet


@pytest.mark.parametrize("palette", _palettes())
def test_the_style_sheet_uses_only_its_palette_s_colours(palette: Any) -> None:
    from console.qt.palette import qss

    sheet = qss(palette)
    colours = set(HEX.findall(sheet))
    assert colours, "no colour at all: the template was not filled"
    assert colours <= set(palette.roles().values())
    assert "$" not in sheet
    assert [c for c in colour_literals(sheet) if not HEX.fullmatch(c)] == []


def test_the_two_style_sheets_differ_only_in_colours() -> None:
    from console.qt.palette import DARK, LIGHT, qss

    light, dark = qss(LIGHT), qss(DARK)
    assert light != dark
    assert HEX.sub("#", light) == HEX.sub("#", dark)


def test_a_template_naming_an_unknown_role_fails_loudly() -> None:
    from console.qt.palette import LIGHT, qss

    with pytest.raises(KeyError, match="chartreuse_glow"):
        qss(LIGHT, "QLabel { color: $chartreuse_glow; }")


@pytest.mark.parametrize("palette", _palettes())
def test_qt_s_palette_is_made_of_the_same_colours(palette: Any) -> None:
    from PySide6.QtGui import QPalette

    from console.qt.palette import qpalette

    made = qpalette(palette)
    assert made.color(QPalette.ColorRole.Window).name() == palette.window
    assert made.color(QPalette.ColorRole.WindowText).name() == palette.text
    assert (
        made.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.ButtonText).name()
        == palette.disabled_text
    )
    assert made.color(QPalette.ColorRole.Highlight).name() == palette.selection_bg


# ------------------------------------------------------------------ applying a theme


class FakeHints(QObject):
    """A desktop whose colour scheme the test decides. Offscreen (and on a bare X
    server) Qt ignores QStyleHints.setColorScheme: colorScheme() stays Unknown."""

    colorSchemeChanged = Signal(Qt.ColorScheme)

    def __init__(self) -> None:
        super().__init__()
        self.scheme = Qt.ColorScheme.Unknown
        self.requested: list[Qt.ColorScheme] = []

    def colorScheme(self) -> Qt.ColorScheme:
        return self.scheme

    def setColorScheme(self, scheme: Qt.ColorScheme) -> None:
        self.requested.append(scheme)

    def desktop_switches_to(self, scheme: Qt.ColorScheme) -> None:
        self.scheme = scheme
        self.colorSchemeChanged.emit(scheme)


@pytest.fixture
def app(qapp: QApplication) -> Iterator[QApplication]:
    """The application; whatever theme a test applied, the next test starts light."""
    yield qapp
    apply_theme("light", qapp)


@pytest.fixture
def window(app: QApplication, qtbot: Any) -> MainWindow:
    services = WindowServices(
        dispatch=lambda event: None,
        callee_press=lambda sid, d: None,
        callee_hangup=lambda sid: None,
    )
    shown = MainWindow(
        Profile("Sandbox", sandbox=True, caller_ids=("+14155550134",)),
        services,
        "http://127.0.0.1:1/hooks/token",
    )
    qtbot.addWidget(shown)
    shown.resize(1280, 800)
    shown.show()
    return shown


@pytest.fixture
def desktop(app: QApplication) -> Iterator[tuple[Theme, FakeHints]]:
    hints = FakeHints()
    theme = Theme(app, hints=hints)
    theme.setObjectName("test theme")  # apply_theme() keeps finding the app's own
    yield theme, hints
    theme.setParent(None)
    theme.deleteLater()


def dominant(image: QImage, widget: QWidget, window: QWidget) -> str:
    """The colour covering most of ``widget`` in a grab of ``window``."""
    corner = widget.mapTo(window, QPoint(0, 0))
    counts = Counter(
        image.pixelColor(corner.x() + x, corner.y() + y).name()
        for x in range(2, widget.width() - 2, 3)
        for y in range(2, widget.height() - 2, 3)
    )
    return counts.most_common(1)[0][0]


def rendered(window: MainWindow) -> dict[str, str]:
    image = window.grab().toImage()
    return {
        "window": image.pixelColor(3, 3).name(),
        "header": dominant(image, window.findChild(QFrame, "header"), window),
        "log": dominant(image, window.log.viewport(), window),
        "dial": dominant(image, window.dial_button, window),
        "board header": dominant(image, window.table.horizontalHeader(), window),
    }


def expected(palette: Palette) -> dict[str, str]:
    return {
        "window": palette.window,
        "header": palette.surface,
        "log": palette.surface,
        "dial": palette.dial,
        "board header": palette.header,
    }


def test_dark_then_light_repaint_the_window_in_each_palette(window: MainWindow) -> None:
    apply_theme("dark")
    assert rendered(window) == expected(DARK)
    apply_theme("light")
    assert rendered(window) == expected(LIGHT)


@pytest.mark.parametrize("setting", ["light", "dark"])
def test_no_widget_draws_its_text_in_its_own_background_colour(
    window: MainWindow, setting: str
) -> None:
    """Issue 11: labels, headers, buttons and the log were white on white on a dark desktop."""
    palette = apply_theme(setting)
    image = window.grab().toImage()
    widgets = [
        window.selected_label,
        window.findChild(QFrame, "header"),
        window.dial_button,
        window.speak_button,
        window.log,
        window.number,
        window.tabs.tabBar(),
        window.listener_status,
    ]
    for widget in widgets:
        text = widget.palette().color(widget.foregroundRole()).name()
        behind = dominant(image, widget, window)
        assert contrast(text, behind, palette.window) >= 4.5, (widget, text, behind)


def test_log_and_timeline_lines_take_the_new_palette_s_colours(window: MainWindow) -> None:
    apply_theme("light")
    window.log.show_state(
        State(
            log=(
                LogEntry(1.0, Note.ALREADY_DIALING, "+15551230000", level="error"),
                LogEntry(2.0, Note.ALREADY_DIALING, "+15551230000", level="warning"),
                LogEntry(3.0, Note.ALREADY_DIALING, "+15551230000"),
            )
        )
    )
    colours = [window.log.item(i).foreground().color().name() for i in range(2)]
    assert colours == [LIGHT.danger, LIGHT.warning]
    apply_theme("dark")
    colours = [window.log.item(i).foreground().color().name() for i in range(2)]
    assert colours == [DARK.danger, DARK.warning]


def test_call_statuses_take_the_active_palette_s_colours(app: QApplication) -> None:
    from console.qt.palette import status_colour

    apply_theme("dark")
    assert status_colour(CallStatus.RINGING).name() == DARK.status[CallStatus.RINGING]
    apply_theme("light")
    assert status_colour(CallStatus.RINGING).name() == LIGHT.status[CallStatus.RINGING]


def test_the_theme_uses_fusion_with_its_own_palette(app: QApplication) -> None:
    apply_theme("dark")
    assert app.palette().color(QPalette.ColorRole.Base).name() == DARK.surface
    assert app.styleSheet() == qss(DARK)
    app.setStyleSheet("")  # app.style() is the style sheet's wrapper until then
    assert app.style().name().lower() == "fusion"


def test_system_follows_the_desktop_s_colour_scheme(
    desktop: tuple[Theme, FakeHints], window: MainWindow
) -> None:
    theme, hints = desktop
    assert theme.apply("system") is LIGHT  # Unknown counts as light
    assert hints.requested[-1] == Qt.ColorScheme.Unknown  # the desktop decides
    hints.desktop_switches_to(Qt.ColorScheme.Dark)
    assert theme.palette is DARK
    assert rendered(window) == expected(DARK)
    hints.desktop_switches_to(Qt.ColorScheme.Light)
    assert rendered(window) == expected(LIGHT)


def test_an_explicit_theme_ignores_the_desktop(desktop: tuple[Theme, FakeHints]) -> None:
    theme, hints = desktop
    theme.apply("dark")
    assert hints.requested[-1] == Qt.ColorScheme.Dark  # native dialogs and title bars follow
    hints.desktop_switches_to(Qt.ColorScheme.Light)
    assert theme.palette is DARK
    assert QApplication.instance().styleSheet() == qss(DARK)  # type: ignore[union-attr]


def test_an_unknown_setting_means_system(desktop: tuple[Theme, FakeHints]) -> None:
    theme, hints = desktop
    hints.scheme = Qt.ColorScheme.Dark
    assert theme.apply("sepia") is DARK
    assert theme.setting == "system"


def test_system_with_qt_s_own_hints_offscreen_is_light(app: QApplication) -> None:
    assert QGuiApplication.styleHints().colorScheme() == Qt.ColorScheme.Unknown
    assert apply_theme("system") is LIGHT


# ------------------------------------------------------------------ the setting


@pytest.mark.parametrize("theme", ["light", "dark", "system"])
def test_the_theme_setting_round_trips_through_the_file(tmp_path: Path, theme: str) -> None:
    path = tmp_path / "settings.json"
    save(Settings(theme=theme), path)
    assert load(path).theme == theme


@pytest.mark.parametrize("stored", ['"sepia"', "3", "null", '["dark"]'])
def test_an_unknown_stored_theme_means_system(tmp_path: Path, stored: str) -> None:
    path = tmp_path / "settings.json"
    path.write_text(f'{{"version": 1, "theme": {stored}}}', encoding="utf-8")
    assert load(path).theme == "system"


def test_settings_without_a_theme_follow_the_system(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text('{"version": 1, "active": "Sandbox"}', encoding="utf-8")
    assert load(path).theme == "system"


def test_the_settings_dialog_offers_light_dark_and_system(app: QApplication, qtbot: Any) -> None:
    dialog = SettingsDialog(Settings(profiles=(SANDBOX,), theme="dark"), "the OS keyring", {})
    qtbot.addWidget(dialog)
    offered = [dialog.theme.itemData(i) for i in range(dialog.theme.count())]
    assert offered == ["light", "dark", "system"]
    assert dialog.theme_setting() == "dark"


def test_saving_the_settings_applies_the_theme_at_once(app: QApplication, qtbot: Any) -> None:
    apply_theme("light")
    dialog = SettingsDialog(Settings(profiles=(SANDBOX,), theme="light"), "the OS keyring", {})
    qtbot.addWidget(dialog)
    dialog.theme.setCurrentIndex(dialog.theme.findData("dark"))
    with qtbot.waitSignal(dialog.saved):
        dialog._on_save()
    assert dialog.theme_setting() == "dark"  # what the console saves (app.run_window)
    assert app.styleSheet() == qss(DARK)
