"""Host-candidate-only ICE that also works on a machine whose only interface is loopback.

aioice gathers host addresses through the module-level function
``aioice.ice.get_host_addresses(use_ipv4, use_ipv6)`` and leaves ``127.0.0.1`` out. A browser on
the same machine (Chromium with ``--allow-loopback-in-peer-connection``) or a CI runner with no
other interface then has nothing to connect to. :func:`create_peer_connection` wraps that one
function, once per process, so that every aioice connection also offers ``127.0.0.1``; no STUN
or TURN server is configured, so gathering never touches the network.
"""

from __future__ import annotations

import aioice.ice
from aiortc import RTCConfiguration, RTCPeerConnection

LOOPBACK_IPV4 = "127.0.0.1"

_aioice_host_addresses = aioice.ice.get_host_addresses


def _host_addresses_with_loopback(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    addresses = _aioice_host_addresses(use_ipv4, use_ipv6)
    if use_ipv4 and LOOPBACK_IPV4 not in addresses:
        addresses.append(LOOPBACK_IPV4)
    return addresses


def enable_loopback_candidates() -> None:
    """Make aioice offer ``127.0.0.1`` as a host candidate; idempotent, process-wide."""
    aioice.ice.get_host_addresses = _host_addresses_with_loopback


def create_peer_connection() -> RTCPeerConnection:
    """A peer connection that gathers host candidates only, loopback included."""
    enable_loopback_candidates()
    return RTCPeerConnection(RTCConfiguration(iceServers=[]))
