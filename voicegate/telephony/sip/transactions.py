"""SIP server transactions (RFC 3261 17.2): retransmitted requests answered again, not
handled twice; and the timers that resend a message over UDP until it is acknowledged."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from voicegate.telephony.sip.fields import Via
from voicegate.telephony.sip.message import SIPRequest, SIPResponse, serialize
from voicegate.telephony.sip.network import SIPPeer

logger = logging.getLogger(__name__)

T1 = 0.5
"""RFC 3261's round-trip estimate, seconds: the first resend interval."""
T2 = 4.0
"""The longest resend interval."""
TRANSACTION_LIFETIME = 64 * T1
"""How long a transaction (and a resend loop) lasts at most: 32 s."""

TransactionKey = tuple[str, str, str]


def transaction_key(request: SIPRequest) -> TransactionKey | None:
    """``(branch, sent-by, method)`` of the request's top Via (an ACK shares its INVITE's
    key); ``None`` for a Via without RFC 3261's branch."""
    vias = request.headers.values("Via")
    try:
        via = Via.parse(vias[0]) if vias else None
    except ValueError:
        return None
    if via is None or not via.branch.startswith("z9hG4bK"):
        return None
    method = "INVITE" if request.method == "ACK" else request.method
    return via.branch, f"{via.host}:{via.port or 5060}", method


class Retransmission:
    """Sends ``data`` to ``peer`` now, and over UDP again after T1, 2 T1, ... (at most T2
    apart) until :meth:`stop`; after :data:`TRANSACTION_LIFETIME` it gives up and calls
    ``on_timeout``."""

    def __init__(
        self, peer: SIPPeer, data: bytes, on_timeout: Callable[[], None] | None = None
    ) -> None:
        self._peer = peer
        self._data = data
        self._on_timeout = on_timeout
        peer.send(data)
        self._task = asyncio.create_task(self._resend(), name="sip-retransmission")

    def stop(self) -> None:
        """The message was acknowledged (or is no longer needed)."""
        self._task.cancel()

    async def _resend(self) -> None:
        interval, waited = T1, 0.0
        while waited < TRANSACTION_LIFETIME:
            await asyncio.sleep(interval)
            waited += interval
            if self._peer.transport == "udp":
                self._peer.send(self._data)
            interval = min(2 * interval, T2)
        if self._on_timeout is not None:
            self._on_timeout()


@dataclass(slots=True)
class ServerTransaction:
    """A request being answered: the last response sent, and its resends if any."""

    request: SIPRequest
    peer: SIPPeer
    created: float
    response: bytes | None = None
    resending: Retransmission | None = None

    def respond(self, response: SIPResponse, *, until_acknowledged: bool = False) -> None:
        """Send ``response``; a final one to an INVITE is resent until its ACK."""
        if self.resending is not None:
            self.resending.stop()
        self.response = serialize(response)
        if until_acknowledged:
            self.resending = Retransmission(self.peer, self.response)
        else:
            self.resending = None
            self.peer.send(self.response)

    def remember(self, response: SIPResponse) -> None:
        """``response`` was sent by someone else (a 2xx, which the call resends): a
        retransmitted request gets it again."""
        self.response = serialize(response)

    def acknowledged(self) -> None:
        """The ACK came: stop resending."""
        if self.resending is not None:
            self.resending.stop()
            self.resending = None


class TransactionTable:
    """The server transactions of the last :data:`TRANSACTION_LIFETIME` seconds."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._open: dict[TransactionKey, ServerTransaction] = {}

    def find(self, request: SIPRequest) -> ServerTransaction | None:
        """The transaction ``request`` belongs to if it is a retransmission (or an ACK of a
        non-2xx answer)."""
        self._expire()
        key = transaction_key(request)
        return self._open.get(key) if key is not None else None

    def open(self, request: SIPRequest, peer: SIPPeer) -> ServerTransaction:
        """A new transaction for ``request`` (not remembered without an RFC 3261 branch)."""
        transaction = ServerTransaction(request, peer, self._clock())
        key = transaction_key(request)
        if key is not None:
            self._open[key] = transaction
        return transaction

    def close(self) -> None:
        """Stop every resend (the server is closing)."""
        for transaction in self._open.values():
            transaction.acknowledged()
        self._open.clear()

    def _expire(self) -> None:
        cutoff = self._clock() - TRANSACTION_LIFETIME
        for key in [k for k, t in self._open.items() if t.created < cutoff]:
            transaction = self._open.pop(key)
            transaction.acknowledged()
