"""Checking a client's SDP offer before aiortc sees it: every section, not only the audio.

aiortc assumes well-formed offers: a section without a DTLS role, a BUNDLE group naming a
missing ``mid`` or an audio section without a direction makes it raise from deep inside
(``AttributeError``, ``ValueError``), and a garbage DTLS fingerprint is accepted only to fail
the handshake later. :func:`parse_offer` refuses all of these with a message fit for a 400.
"""

from __future__ import annotations

import re

from aiortc import sdp

from voicegate.errors import RoomKitError

FINGERPRINT_BYTES = {"sha-256": 32, "sha-384": 48, "sha-512": 64}
"""The DTLS fingerprint algorithms aiortc verifies, and their digest sizes."""

SECTION_KINDS = ("audio", "application")
"""The media sections an offer may have: the audio and the data channel."""

_ICE_CHARS = re.compile(r"[A-Za-z0-9+/]+")
_ICE_UFRAG_LENGTH = (4, 256)
_ICE_PWD_LENGTH = (22, 256)
_SCTP_PROFILES = ("UDP/DTLS/SCTP", "DTLS/SCTP")


class InvalidOfferError(RoomKitError):
    """The client's SDP offer cannot be answered; the message is fit for a 400 response."""


def parse_offer(offer_sdp: str, offer_type: str = "offer") -> sdp.SessionDescription:
    """Parse and check an offer: one send-and-receive audio section with RTCP multiplexing,
    at most one data channel section, and in every section ICE credentials, a DTLS role and
    well-formed fingerprints; BUNDLE names only sections that exist.

    Raises :class:`InvalidOfferError` naming what is wrong.
    """
    if offer_type != "offer":
        raise InvalidOfferError(f"unsupported SDP type {offer_type!r}: expected 'offer'")
    if not isinstance(offer_sdp, str) or not offer_sdp.lstrip().startswith("v=0"):
        raise InvalidOfferError("malformed SDP offer: it must start with 'v=0'")
    try:
        description = sdp.SessionDescription.parse(offer_sdp.strip() + "\r\n")
    except Exception as exc:  # aiortc's parser fails in many ways, all of them the text's fault
        raise InvalidOfferError("malformed SDP offer: a line could not be parsed") from exc
    _check_sections(description)
    for media in description.media:
        _check_transport(media)
    _check_bundle(description)
    return description


def _check_sections(description: sdp.SessionDescription) -> None:
    kinds = [media.kind for media in description.media]
    other = sorted(set(kinds) - set(SECTION_KINDS))
    if other:
        raise InvalidOfferError(
            f"the SDP offer has a {other[0]!r} section; only audio and the data channel are taken"
        )
    if "audio" not in kinds:
        raise InvalidOfferError("the SDP offer has no audio section")
    if kinds.count("audio") > 1:
        raise InvalidOfferError(
            f"the SDP offer has {kinds.count('audio')} audio sections; expected one"
        )
    if kinds.count("application") > 1:
        raise InvalidOfferError("the SDP offer has more than one data channel section")
    for media in description.media:
        if media.kind == "audio":
            _check_audio(media)
        if media.kind == "application" and not _is_sctp(media):
            raise InvalidOfferError("the data channel section is not SCTP over DTLS")


def _check_audio(media: sdp.MediaDescription) -> None:
    if media.direction != "sendrecv":
        shown = "none" if media.direction is None else repr(media.direction)
        raise InvalidOfferError(f"the offer's audio must be 'sendrecv', got {shown}")
    if not media.rtcp_mux:
        raise InvalidOfferError("the offer's audio must multiplex RTCP (a=rtcp-mux)")
    if media.msid is not None and len(media.msid.split()) != 2:
        raise InvalidOfferError("malformed a=msid: expected a stream id and a track id")


def _is_sctp(media: sdp.MediaDescription) -> bool:
    if media.profile not in _SCTP_PROFILES:
        return False
    if media.profile == "DTLS/SCTP":  # the legacy form: the port is the format
        return bool(media.fmt) and str(media.fmt[0]).isdigit()
    return media.sctp_port is not None


def _check_transport(media: sdp.MediaDescription) -> None:
    ice = media.ice
    if ice is None or not ice.usernameFragment or not ice.password:
        raise InvalidOfferError("the SDP offer has no ICE username fragment or password")
    _check_ice_token("ICE username fragment", ice.usernameFragment, _ICE_UFRAG_LENGTH)
    _check_ice_token("ICE password", ice.password, _ICE_PWD_LENGTH)
    if media.dtls is None:
        raise InvalidOfferError(f"the SDP offer's {media.kind} section has no DTLS role (a=setup)")
    if not media.dtls.fingerprints:
        raise InvalidOfferError("the SDP offer has no DTLS fingerprint")
    for fingerprint in media.dtls.fingerprints:
        size = FINGERPRINT_BYTES.get(fingerprint.algorithm.lower())
        if size is None:
            known = ", ".join(FINGERPRINT_BYTES)
            raise InvalidOfferError(
                f"unsupported DTLS fingerprint algorithm {fingerprint.algorithm!r} (use {known})"
            )
        pairs = fingerprint.value.split(":")
        if len(pairs) != size or not all(re.fullmatch(r"[0-9A-Fa-f]{2}", p) for p in pairs):
            raise InvalidOfferError(
                f"malformed DTLS fingerprint: a {fingerprint.algorithm} fingerprint is "
                f"{size} hexadecimal bytes separated by colons"
            )


def _check_ice_token(name: str, value: str, length: tuple[int, int]) -> None:
    low, high = length
    if not low <= len(value) <= high or not _ICE_CHARS.fullmatch(value):
        raise InvalidOfferError(
            f"malformed {name}: {low} to {high} characters of A-Z, a-z, 0-9, + and /"
        )


def _check_bundle(description: sdp.SessionDescription) -> None:
    mids = [media.rtp.muxId for media in description.media]
    if any(not mid for mid in mids) or len(set(mids)) < len(mids):
        raise InvalidOfferError("every section of the SDP offer needs its own a=mid")
    for group in description.group:
        missing = [str(item) for item in group.items if str(item) not in mids]
        if group.semantic == "BUNDLE" and missing:
            raise InvalidOfferError(
                f"the SDP offer's BUNDLE group names a section that does not exist: {missing[0]}"
            )
