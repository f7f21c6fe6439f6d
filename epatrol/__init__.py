"""epatrol: electronic patrol for city management."""

__version__ = "0.1.0"
