"""Settings of the web KPI group (sessions, bounce, scroll, label bounds)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class WebSettings(BaseModel):
    """Mixed into KpiSettings; fields become ``CS_<FIELD>`` environment variables."""

    web_session_gap_s: int = Field(
        1800,
        ge=1,
        le=86_400,
        description="a web event more than this many seconds after the previous one starts a "
        "new session",
    )
    web_engaged_ms: int = Field(
        10_000,
        ge=0,
        description="a one-page session with less engaged time than this (and no click) bounced",
    )
    web_deep_scroll_pct: int = Field(
        90, ge=0, le=100, description="a page_left with max_scroll_pct >= this is a deep scroll"
    )
    web_path_limit: int = Field(200, ge=1, description="distinct paths before folding into other")
    web_link_limit: int = Field(100, ge=1, description="distinct links before folding into other")
    web_answer_limit: int = Field(
        50, ge=1, description="distinct intent answers before folding into other"
    )
