"""WebRTC media plumbing on aiortc: answering offers, inbound audio, a paced outbound track."""

from voicegate.voice.rtc.ice import LoopbackPeerConnection, create_peer_connection
from voicegate.voice.rtc.inbound import read_audio
from voicegate.voice.rtc.offer import InvalidOfferError, parse_offer
from voicegate.voice.rtc.outbound import PacedAudioTrack
from voicegate.voice.rtc.peer import AnsweredPeer, IceGatheringTimeoutError, answer_offer

__all__ = [
    "AnsweredPeer",
    "IceGatheringTimeoutError",
    "InvalidOfferError",
    "LoopbackPeerConnection",
    "PacedAudioTrack",
    "answer_offer",
    "create_peer_connection",
    "parse_offer",
    "read_audio",
]
