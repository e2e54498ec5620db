"""Host-candidate-only ICE that also works on a machine whose only interface is loopback.

aioice gathers host addresses through the module-level function
``aioice.ice.get_host_addresses(use_ipv4, use_ipv6)`` and leaves ``127.0.0.1`` out. A browser on
the same machine (Chromium with ``--allow-loopback-in-peer-connection``) or a CI runner with no
other interface then has nothing to connect to. Neither aioice's ``Connection`` nor aiortc's
``RTCConfiguration`` can choose the host addresses per connection, so that function is the only
place to add one: :func:`create_peer_connection` replaces it, once per process, with a wrapper
that adds ``127.0.0.1`` only while one of voicegate's own peer connections gathers. Gathering
happens in :meth:`RTCPeerConnection.setLocalDescription` (and the tasks it starts), which
:class:`LoopbackPeerConnection` runs with a context variable set; every other aioice connection
in the process gathers exactly as aioice does. No STUN or TURN server is configured, so
gathering never touches the network.
"""

from __future__ import annotations

from contextvars import ContextVar

import aioice.ice
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

LOOPBACK_IPV4 = "127.0.0.1"

_aioice_host_addresses = aioice.ice.get_host_addresses
_offer_loopback: ContextVar[bool] = ContextVar("voicegate_offer_loopback", default=False)


def _host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    addresses = _aioice_host_addresses(use_ipv4, use_ipv6)
    if _offer_loopback.get() and use_ipv4 and LOOPBACK_IPV4 not in addresses:
        addresses.append(LOOPBACK_IPV4)
    return addresses


class LoopbackPeerConnection(RTCPeerConnection):
    """A peer connection whose candidate gathering also offers ``127.0.0.1``."""

    async def setLocalDescription(  # noqa: N802 - aiortc's (W3C) name
        self,
        sessionDescription: RTCSessionDescription | None = None,  # noqa: N803
    ) -> None:
        """Set the local description; the host candidates gathered include loopback."""
        offering = _offer_loopback.set(True)
        try:
            await super().setLocalDescription(sessionDescription)
        finally:
            _offer_loopback.reset(offering)


def create_peer_connection() -> RTCPeerConnection:
    """A peer connection that gathers host candidates only, loopback included."""
    aioice.ice.get_host_addresses = _host_addresses
    return LoopbackPeerConnection(RTCConfiguration(iceServers=[]))
