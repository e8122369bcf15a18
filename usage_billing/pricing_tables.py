"""Column lists of the pricing tables users provide, as DuckDB DDL (the same columns as the demo
seeds; docs/pricing.md)."""

from __future__ import annotations

PRICING_TABLES: dict[str, str] = {
    "customers": (
        "customer_id varchar, name varchar, billing_email varchar, timezone varchar,"
        " issuer_id varchar, address_line1 varchar, address_line2 varchar, address_city varchar,"
        " address_postal_code varchar, address_state varchar, address_country varchar,"
        " tax_id varchar, payment_terms_days integer, tax_exempt varchar,"
        " parent_customer_id varchar"
    ),
    "customer_aliases": "alias varchar, customer_id varchar",
    "plans": "plan_id varchar, name varchar",
    "subscriptions": (
        "subscription_id varchar, customer_id varchar, plan_id varchar, currency varchar,"
        " start_date date, end_date date, billing_interval varchar, billing_anchor_day integer,"
        " minimum_amount decimal(38, 10), threshold_billing_amount decimal(38, 10),"
        " child_usage varchar"
    ),
    "prices": (
        "price_id varchar, plan_id varchar, subscription_id varchar, metric varchar,"
        " pricing_model varchar, description varchar, currency varchar,"
        " unit_price decimal(38, 10), flat_amount decimal(38, 10), package_size decimal(38, 10),"
        " free_units decimal(38, 10), free_events integer, free_allowance_rule varchar,"
        " transaction_fixed_fee decimal(38, 10),"
        " transaction_minimum decimal(38, 10), transaction_maximum decimal(38, 10),"
        " minimum_amount decimal(38, 10), maximum_amount decimal(38, 10), group_value varchar,"
        " billing_timing varchar, prorate boolean, tier_1_flat_at_zero boolean,"
        " effective_from date, effective_to date, cadence varchar, charge_date date,"
        " tax_code varchar"
    ),
    "price_tiers": (
        "price_id varchar, tier integer, up_to decimal(38, 10), unit_price decimal(38, 10),"
        " flat_amount decimal(38, 10)"
    ),
    "credit_grants": (
        "grant_id varchar, customer_id varchar, currency varchar, amount decimal(38, 10),"
        " granted_at timestamp, expires_at timestamp, priority integer, metric varchar,"
        # Optional (docs/pricing.md, "Prepaid credits"): a table without them builds as before.
        " grant_type varchar, purchase_amount decimal(38, 10), rollover_cap decimal(38, 10),"
        " rollover_expires_at timestamp"
    ),
    "closed_periods": (
        "customer_id varchar, closed_through date, closed_at timestamp, note varchar"
    ),
    # Optional: a warehouse without it builds as if it were empty.
    "discounts": (
        "discount_id varchar, customer_id varchar, subscription_id varchar, description varchar,"
        " percent_off decimal(38, 10), amount_off decimal(38, 10), currency varchar,"
        " price_id varchar, metric varchar, starts_on date, duration_periods integer"
    ),
    "tax_rates": (
        "tax_rate_id varchar, customer_id varchar, tax_code varchar, description varchar,"
        " percentage decimal(38, 10), inclusive boolean, calculation varchar,"
        " effective_from date, effective_to date"
    ),
    "usage_limits": (
        "limit_id varchar, customer_id varchar, plan_id varchar, metric varchar,"
        " limit_quantity decimal(38, 10), description varchar"
    ),
    "usage_thresholds": (
        "threshold_id varchar, customer_id varchar, metric varchar, description varchar,"
        " quantity decimal(38, 10), amount decimal(38, 10), percentage decimal(38, 10),"
        " percent_of varchar"
    ),
}
