"""The header's team part (a Team profile only): who this desk is, the team
stream's link ("reconnecting…" while it is away, "rebuilding…" while a
snapshot loads, a plain message when the token was revoked), and the desk's
own status with the control to set it: Available, Wrap-up, or Away with a
reason of at most 80 characters.

Picking a status dispatches ``StatusRequested``; the reducer decides (it keeps
"On a call" while one of the desk's own calls is live) and the control shows
what it decided, so it never claims a status the gateway was not told."""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QLineEdit, QWidget

from console.core.events import StatusRequested
from console.core.team import CHOOSABLE, REASON_LIMIT, Link, Presence, Team
from console.qt import wording

ON_CALL_TIP = "On a call while one of your calls is live; then Wrap-up until you pick Available"
STATUS_TIP = "Your status, as your supervisor sees it"


class TeamStatus(QWidget):
    def __init__(
        self, set_status: Callable[[StatusRequested], object], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self._set_status = set_status
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(8)
        self.who = QLabel()
        self.who.setObjectName("teamWho")
        self.link = QLabel()
        self.link.setObjectName("teamLink")
        self.status = QComboBox()
        self.status.setObjectName("ownStatus")
        self.status.setToolTip(STATUS_TIP)
        self.status.addItem(wording.PRESENCE[Presence.ON_CALL], Presence.ON_CALL)
        for choice in CHOOSABLE:
            self.status.addItem(wording.PRESENCE[choice], choice)
        self.status.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.status.activated.connect(self._on_status_activated)
        self.reason = QLineEdit()
        self.reason.setObjectName("awayReason")
        self.reason.setMaxLength(REASON_LIMIT)
        self.reason.setPlaceholderText("Reason (e.g. lunch)")
        self.reason.setToolTip(f"Why you are away, at most {REASON_LIMIT} characters")
        self.reason.setMinimumWidth(140)
        self.reason.setVisible(False)
        self.reason.editingFinished.connect(self._on_reason_finished)
        self.not_sent = QLabel("⚠ status not sent")
        self.not_sent.setObjectName("warning")
        self.not_sent.setToolTip(
            "The gateway did not get this desk's status; it is sent again every few seconds"
        )
        self.not_sent.setVisible(False)
        row.addWidget(self.who)
        row.addWidget(self.link)
        row.addWidget(self.status)
        row.addWidget(self.reason)
        row.addWidget(self.not_sent)
        on_call = self.status.model()
        assert isinstance(on_call, QStandardItemModel)
        on_call.item(0).setEnabled(False)  # "On a call" is shown, never picked
        self._shown: object = None

    # ------------------------------------------------------------ operator

    def _on_status_activated(self, index: int) -> None:
        chosen = self.status.itemData(index)
        away = chosen is Presence.AWAY
        self.reason.setVisible(away)
        if away:
            self.reason.setFocus()
        self._request(chosen)

    def _on_reason_finished(self) -> None:
        if self.status.currentData() is Presence.AWAY:
            self._request(Presence.AWAY)

    def _request(self, status: Presence) -> None:
        reason = self.reason.text().strip() if status is Presence.AWAY else ""
        self._set_status(StatusRequested(status, time.time(), reason))

    # ------------------------------------------------------------ state

    def show_team(self, team: Team) -> None:
        key = (team.me, team.status, team.link, team.presence_failed)
        if key == self._shown:
            return
        self._shown = key
        self.who.setText(
            f"<b>{team.me.operator}</b> · {wording.ROLE[team.me.role]}"
            if team.me.known
            else wording.who(team.me)
        )
        self.link.setVisible(team.link is not Link.CONNECTED)
        self.link.setText(("⚠ " if team.link is Link.REVOKED else "") + wording.link(team.link))
        self.link.setToolTip(wording.LINK_DETAIL[team.link])
        self.link.setProperty("link", team.link.value)
        self.link.style().unpolish(self.link)  # the style sheet colours it by its link
        self.link.style().polish(self.link)
        own = team.status
        self.status.setCurrentIndex(max(0, self.status.findData(own.status)))
        on_call = own.status is Presence.ON_CALL
        self.status.setEnabled(not on_call)
        self.status.setVisible(team.link is not Link.REVOKED)  # nobody hears it any more
        self.status.setToolTip(ON_CALL_TIP if on_call else STATUS_TIP)
        away = own.status is Presence.AWAY and team.link is not Link.REVOKED
        self.reason.setVisible(away)
        if away and not self.reason.hasFocus():  # never overwrite what is being typed
            self.reason.setText(own.reason)
        self.not_sent.setVisible(team.presence_failed)
