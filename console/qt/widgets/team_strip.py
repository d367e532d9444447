"""The team strip: today's figures as the gateway counted them (``GET /team/stats``,
``State.team.figures``): live calls, answer rate, the AMD split, average handle
time, calls placed and calls per operator. The desk computes none of them (it
holds only live calls and a bounded recent set); it shows when they were loaded."""

from __future__ import annotations

from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QWidget

from console.core.team import Team
from console.qt import wording
from console.qt.flow import FlowLayout

FIGURES = (
    ("live", "Live calls", "Calls not ended yet, on the whole team"),
    ("answer_rate", "Answer rate", "Answered ÷ (answered + not answered); ringing calls left out"),
    ("amd", "AMD", "Who answered today's answered calls, as detected"),
    ("handle", "Avg handle", "Average time from answer to end, today"),
    ("placed", "Placed today", "Calls placed today, in the gateway's time zone"),
    ("per_operator", "Per operator", "Calls placed today per operator; the busiest named"),
)


class TeamStrip(QFrame):
    """One chip per figure ("Answer rate 67%"), wrapping onto a second line when
    the window is narrow, so no figure is ever cut."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("teamStrip")
        flow = FlowLayout(self, spacing=22)
        flow.setContentsMargins(10, 5, 10, 5)
        self.values: dict[str, QLabel] = {}
        for key, caption, tip in FIGURES:
            chip = QWidget(self)
            row = QHBoxLayout(chip)
            row.setContentsMargins(0, 0, 0, 0)
            row.setSpacing(6)
            title = QLabel(caption, chip)
            title.setObjectName("figureCaption")
            value = QLabel("—", chip)
            value.setObjectName("figure")
            row.addWidget(title)
            row.addWidget(value)
            chip.setToolTip(tip)
            flow.addWidget(chip)
            self.values[key] = value
        self.as_of = QLabel(self)
        self.as_of.setObjectName("figureCaption")
        flow.addWidget(self.as_of)
        self._shown: object = None

    def show_team(self, team: Team | None) -> None:
        figures = team.figures if team is not None else None
        key = (figures, len(team.operators) if team is not None else 0)
        if key == self._shown:
            return
        self._shown = key
        if figures is None:
            for value in self.values.values():
                value.setText("—")
            self.as_of.setText("Today's figures: waiting for the gateway")
            return
        operators = len(team.operators) if team is not None else 0
        self.values["live"].setText(f"{figures.live:,}")
        self.values["answer_rate"].setText(wording.answer_rate(figures))
        self.values["amd"].setText(wording.amd_split(figures))
        self.values["handle"].setText(wording.handle_time(figures))
        self.values["placed"].setText(f"{figures.placed:,}")
        self.values["per_operator"].setText(wording.per_operator(figures, operators))
        self.values["per_operator"].setToolTip(wording.busiest(figures))
        when = wording.clock_time(figures.at) if figures.at else ""
        day = f"Today {figures.day}" if figures.day else "Today"
        zone = f", {figures.timezone}" if figures.timezone else ""
        self.as_of.setText(day + zone + (f" · as of {when}" if when else ""))
