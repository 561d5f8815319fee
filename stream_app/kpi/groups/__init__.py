"""The KPI groups, one package each, named for what users call them.

Each package holds its group's state, its apply/read logic (``group.py``: the
:class:`~stream_app.kpi.group.KpiGroup` subclass) and its settings mixin
(``settings.py``, combined in :class:`stream_app.kpi.settings.KpiSettings`), nothing else;
:mod:`stream_app.kpi.registry` lists the groups a core runs.

The packages' ``__init__`` modules import nothing: ``stream_app.settings`` imports the
settings mixins, and ``group.py`` imports ``stream_app.settings``.
"""
