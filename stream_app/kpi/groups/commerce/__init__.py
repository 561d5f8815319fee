"""The commerce group: self-serve checkouts and their abandonment, orders, sales and repeat
purchases (``group.py``; per-account state: ``state.py``; read: ``read.py``)."""
