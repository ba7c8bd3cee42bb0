"""Stable ids for validation checks (`interactions.timestamp_seconds`), so that a script matches
an id, never the English of a rule: the rule's wording may change, its id does not."""

from __future__ import annotations

import re

# (pattern over the rule, id: \1 is the column named by the rule, lowercased)
_IDS: tuple[tuple[str, str], ...] = (
    (r"header and schema", "header"),
    (r"UTF-8 encoding", "utf8"),
    (r"columns per row", "columns_per_row"),
    (r"quoting", "quoting"),
    (r"one record per line", "one_record_per_line"),
    (r"(\w+) present, at most [\d,]+ characters", r"\1_present"),
    (r"(\w+) in epoch seconds", r"\1_seconds"),
    (r"(\w+) is an? \w+", r"\1_type"),
    (r"(\w+) (?:values|text) at most [\d,]+ characters", r"\1_length"),
    (r"(\w+): no empty value between \|", r"\1_no_empty_value"),
    (r"metadata columns", "metadata_columns"),
    (r"one row per (\w+)", r"unique_\1"),
    (r"at least [\d,]+ interactions", "min_interactions"),
    (r"at least [\d,]+ users with 2\+ interactions", "min_users_with_two"),
    (r"at least [\d.]+% of users with 2\+ interactions", "min_share_of_users_with_two"),
    (r"event types \+ metadata columns", "max_event_types_and_metadata"),
    (r"timestamps vary", "timestamps_vary"),
    (r"recommended size", "recommended_size"),
    (r"duplicate \(user, item, timestamp\) rate", "duplicate_rate"),
    (r"repeated consumption rate", "repeat_rate"),
    (r"item popularity", "item_popularity_shape"),
    (r"user activity", "user_activity_shape"),
    (r"interactions whose user is missing", "missing_users"),
    (r"cold users", "cold_users"),
    (r"interactions whose item is missing", "missing_items"),
    (r"cold items", "cold_items"),
    (r"interactions against (\w+)", r"against_\1"),
    (r"ECOMMERCE domain: (\w+)", r"ecommerce_\1"),
)


def check_id(dataset: str, rule: str) -> str:
    """`dataset.rule_id`: from the table above, else the rule's words joined by underscores."""
    for pattern, name in _IDS:
        found = re.match(pattern, rule)
        if found:
            return f"{dataset}.{found.expand(name).lower()}"
    return f"{dataset}.{'_'.join(re.findall(r'[a-z0-9]+', rule.lower()))}"
