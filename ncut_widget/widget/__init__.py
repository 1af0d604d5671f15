"""Everything anywidget: the widget class, its binary state, the explore() pipeline, export."""

from .pipeline import explore
from .widget import NcutWidget

__all__ = ["NcutWidget", "explore"]
