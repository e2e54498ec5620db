"""End-of-turn models: whether a speaker who went quiet has finished their turn."""

from voicegate.endofturn.base import EndOfTurnModel

__all__ = ["EndOfTurnModel"]
