"""SIP calls: a user agent server on UDP and TCP, with the call's audio over RTP."""
