"""Everything anywidget: the widget class, its binary state, the explore() pipeline, export."""

from .compare import Comparison, compare
from .pipeline import explore
from .widget import NcutWidget

__all__ = ["Comparison", "NcutWidget", "compare", "explore"]
