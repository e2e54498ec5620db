"""Phone calls from Twilio over Media Streams: ``<Connect><Stream>`` to a voicegate WebSocket."""
