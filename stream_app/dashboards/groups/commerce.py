"""Panels of the commerce group (stream_app/kpi/groups/commerce/): checkouts and cart
abandonment, orders, sales, average order value and repeat purchases. Rules:
prometheus/rules/commerce.yml; docs: docs/kpis.md#group-commerce.
"""

from __future__ import annotations

from stream_app.dashboards.panels import Panels, Rows, Steps, money_unit, stat_panel, time_panel

# rules of thumb (docs/observability.md#thresholds): about 70 % of online checkouts are
# abandoned on average; CheckoutAbandonmentHigh fires above 80 %
ABANDONMENT: Steps = [(None, "green"), (0.7, "orange"), (0.8, "red")]
ABANDONMENT_RULE = "cs:checkout_abandonment_30d:ratio"


def headline() -> Panels:
    return [
        stat_panel(
            "Cart abandonment (30 d)",
            "Share of the checkouts of the last 30 days that ended without an order. "
            "About 70 % is the online average; above 80 % is high. Formula: "
            f"{ABANDONMENT_RULE} = checkouts with no order within CS_CHECKOUT_ABANDON_S "
            "/ checkouts judged (started in the 30 days and at least that long ago).",
            [(ABANDONMENT_RULE, "abandoned")],
            "percentunit",
            ABANDONMENT,
            w=4,
        ),
    ]


def trends() -> Panels:
    return []


def rows() -> Rows:
    return [
        (
            "Checkouts and orders",
            [
                stat_panel(
                    "Cart abandonment (30 d)",
                    "Share of the checkouts of the last 30 days that ended without an "
                    "order: a checkout counts as converted when an order carrying its "
                    "checkout id follows within CS_CHECKOUT_ABANDON_S of its start. About "
                    "70 % is the online average; above 80 % is high. Formula: "
                    f"{ABANDONMENT_RULE} = abandoned / judged checkouts of the 30 days.",
                    [(ABANDONMENT_RULE, "abandoned")],
                    "percentunit",
                    ABANDONMENT,
                ),
                stat_panel(
                    "Checkouts (30 d)",
                    "Checkouts started in the last 30 days, those whose abandonment delay "
                    "has passed (judged), and those of them with no order (abandoned). "
                    "Formula: cs_checkouts_started, cs_checkouts_judged and "
                    'cs_checkouts_abandoned{window="30d"}.',
                    [
                        ('sum(cs_checkouts_started{window="30d"})', "started"),
                        ('sum(cs_checkouts_judged{window="30d"})', "judged"),
                        ('sum(cs_checkouts_abandoned{window="30d"})', "abandoned"),
                    ],
                    "short",
                ),
                stat_panel(
                    "Orders (30 d)",
                    "Orders placed in the last 30 days, each order of an account counted "
                    'once. Formula: sum(cs_orders{window="30d"}).',
                    [('sum(cs_orders{window="30d"})', "orders")],
                    "short",
                ),
                stat_panel(
                    "Sales (30 d)",
                    "The amounts of the orders of the last 30 days, in the reporting "
                    "currency (CS_CURRENCY). Formula: "
                    'sum by (currency) (cs_sales{window="30d"}).',
                    [('sum by (currency) (cs_sales{window="30d"})', "{{currency}}")],
                    money_unit(),
                ),
                stat_panel(
                    "Average order value (30 d)",
                    "What an order brings on average over the last 30 days, in the "
                    "reporting currency. Formula: cs:average_order_value_30d = sales / "
                    "orders of the 30 days.",
                    [("cs:average_order_value_30d", "{{currency}}")],
                    money_unit(),
                ),
                stat_panel(
                    "Repeat purchase rate",
                    "Share of the ordering accounts that ordered again: a measure of "
                    "customer loyalty. Formula: cs:repeat_purchase:ratio = accounts with 2+ "
                    "orders / accounts with 1+ orders, by now (cs_ordering_accounts).",
                    [("cs:repeat_purchase:ratio", "repeat")],
                    "percentunit",
                ),
                time_panel(
                    "Cart abandonment over time",
                    "Cart abandonment of the last 30 days over time; the dashed lines are "
                    "the 70 % online average and the 80 % where the CheckoutAbandonmentHigh "
                    f"alert fires. Formula: {ABANDONMENT_RULE}.",
                    [(ABANDONMENT_RULE, "abandonment")],
                    "percentunit",
                    ABANDONMENT,
                ),
                time_panel(
                    "Orders and accounts ordering",
                    "Orders of the last 30 days, and accounts with at least one and at "
                    "least two orders, over time. Formula: "
                    'cs_orders{window="30d"} and cs_ordering_accounts by orders="1+" / '
                    '"2+".',
                    [
                        ('sum(cs_orders{window="30d"})', "orders (30 d)"),
                        ("sum by (orders) (cs_ordering_accounts)", "accounts {{orders}}"),
                    ],
                    "short",
                ),
            ],
        ),
    ]
