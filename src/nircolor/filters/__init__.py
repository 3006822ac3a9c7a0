"""Edge-aware filters for colorized images."""

from .guided import GuidedFilter, apply_guided, guided_filter

__all__ = ["GuidedFilter", "apply_guided", "guided_filter"]
