"""Phone calls into rooms: Twilio Media Streams (``twilio``) and SIP with RTP (``sip``).

Both carry G.711 at 8 kHz; each call is a voice session of the gateway, like a WebSocket
or WebRTC connection, and the keys the caller presses reach the room as ``dtmf`` events.
"""
