"""The usage group: active users (DAU/WAU/MAU) and feature users (``group.py``)."""
