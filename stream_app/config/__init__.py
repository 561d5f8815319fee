"""Per-group settings mixins (pydantic-settings, ``CS_`` prefix), combined in
:class:`stream_app.settings.KpiSettings`. Each KPI group owns its own module here."""
