"""Edge-aware filters for colorized images."""

from .guided import apply_guided, guided_filter, parse_guided

__all__ = ["apply_guided", "guided_filter", "parse_guided"]
