"""The health group: voice of the customer (``voice.py``), support (``support.py``) and the
account health score (``score.py``, ``facts.py``), over the per-account state of
``state.py``; the group itself is ``group.py``."""
