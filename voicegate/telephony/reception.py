"""What a receiver knows of one RTP source (RFC 3550 A.1, A.3, A.8): the extended highest
sequence number, packets expected and lost (in all and since the last report) and the
interarrival jitter, and the report block that says so."""

from __future__ import annotations

from voicegate.telephony.rtcp import ReportBlock

SEQUENCE_MODULO = 1 << 16
MAX_DROPOUT = 3000
MAX_MISORDER = 100
MIN_SEQUENTIAL = 2
"""RFC 3550 A.1: packets in sequence before a source is valid, the largest jump forward and
back that is still the same stream."""


class SourceStatistics:
    """One source's reception, as RFC 3550 A.1 keeps it.

    A source is valid after :data:`MIN_SEQUENTIAL` packets in sequence; a jump of more than
    :data:`MAX_DROPOUT` is taken as a restart only when the packet after it follows it.
    ``arrival`` times are in the source's timestamp units (its clock rate times seconds).
    """

    def __init__(self, ssrc: int, sequence: int) -> None:
        self.ssrc = ssrc
        self.jitter = 0.0
        self._transit: int | None = None
        self._restart(sequence)
        self.max_sequence = (sequence - 1) % SEQUENCE_MODULO  # so that ``sequence`` follows
        self.probation = MIN_SEQUENTIAL

    def _restart(self, sequence: int) -> None:
        self.base_sequence = self.max_sequence = sequence
        self.bad_sequence = SEQUENCE_MODULO + 1
        self.cycles = 0
        self.probation = 0
        self.received = self._received_prior = self._expected_prior = 0

    def update(self, sequence: int, timestamp: int, arrival: int) -> bool:
        """Count a packet (RFC 3550 A.1 ``update_seq``, A.8 jitter); False when it is not
        (yet) taken as the source's: on probation, or after a jump."""
        if not self._update_sequence(sequence):
            return False
        transit = (arrival - timestamp) & 0xFFFFFFFF
        if self._transit is not None:
            difference = abs((transit - self._transit + 0x80000000) % 0x100000000 - 0x80000000)
            self.jitter += (difference - self.jitter) / 16
        self._transit = transit
        return True

    def _update_sequence(self, sequence: int) -> bool:
        delta = (sequence - self.max_sequence) % SEQUENCE_MODULO
        if self.probation:
            if sequence == (self.max_sequence + 1) % SEQUENCE_MODULO:
                self.probation -= 1
                self.max_sequence = sequence
                if self.probation == 0:
                    self._restart(sequence)
                    self.received += 1
                    return True
            else:
                self.probation = MIN_SEQUENTIAL - 1
                self.max_sequence = sequence
            return False
        if delta < MAX_DROPOUT:
            if sequence < self.max_sequence:
                self.cycles += SEQUENCE_MODULO
            self.max_sequence = sequence
        elif delta <= SEQUENCE_MODULO - MAX_MISORDER:
            if sequence != self.bad_sequence:
                self.bad_sequence = (sequence + 1) % SEQUENCE_MODULO
                return False
            self._restart(sequence)  # two packets in sequence after a jump: the sender restarted
        self.received += 1  # duplicates and reordered packets count too, as RFC 3550 A.1 does
        return True

    @property
    def extended_max(self) -> int:
        """The highest sequence number received, with its wrap-arounds."""
        return self.cycles + self.max_sequence

    @property
    def expected(self) -> int:
        """Packets expected since the source was valid."""
        return self.extended_max - self.base_sequence + 1

    @property
    def lost(self) -> int:
        """Packets expected but not received (negative with duplicates)."""
        return self.expected - self.received

    def report(self, last_sr: int = 0, delay_since_last_sr: int = 0) -> ReportBlock:
        """The report block of now; starts a new interval for ``fraction_lost`` (A.3)."""
        expected = self.expected
        expected_interval = expected - self._expected_prior
        received_interval = self.received - self._received_prior
        self._expected_prior, self._received_prior = expected, self.received
        lost_interval = expected_interval - received_interval
        fraction = 0
        if expected_interval > 0 and lost_interval > 0:
            fraction = (lost_interval << 8) // expected_interval
        return ReportBlock(
            self.ssrc,
            min(fraction, 255),
            self.lost,
            self.extended_max & 0xFFFFFFFF,
            int(self.jitter),
            last_sr,
            delay_since_last_sr,
        )
