"""What a transform run did with every message it read."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from toolkit.errors import UsageError
from toolkit.personalize.domains import event_map as domain_event_map
from toolkit.personalize.validate import MAX_ID_LENGTH
from toolkit.segment.lines import Reject

if TYPE_CHECKING:
    from toolkit.transforming.items import ItemsDataset
    from toolkit.transforming.users import UsersDataset

DEFAULT_EVENT_TYPES = ("Product Added", "Order Completed", "Product Clicked")
ITEM_FIELDS = ("sku", "product_id")

# Why a message is not written, in the order the checks apply.
FILTER_REASONS = {
    "type": "not a track call (identify, page, screen, ...) or no type",
    "event type": "event not among --event-types",
    "no user": "no userId (anonymous) or a userId that is not a string or number",
    "no item": "no usable item id in properties.<item field> or products[].<item field>",
    "bad timestamp": "timestamp missing or not ISO-8601",
    "bad id": f"userId longer than {MAX_ID_LENGTH} characters or holding control characters",
}


@dataclass
class TransformOptions:
    event_types: tuple[str, ...] = DEFAULT_EVENT_TYPES
    item_field: str = "sku"
    event_map: dict[str, str] | None = (
        None  # Segment event -> EVENT_TYPE written (a domain's), else the event name
    )

    @classmethod
    def for_domain(
        cls,
        *,
        item_field: str = "sku",
        domain: str | None = None,
        event_map: str | None = None,
        event_types: tuple[str, ...] | None = None,
    ) -> TransformOptions:
        """Options for a Personalize domain (None: EVENT_TYPE is the event name): its event map
        (the bundled one, or the TOML file `event_map`), and the events kept: `event_types`, else
        the map's."""
        if event_map and not domain:
            raise UsageError("`event_map` needs `domain`", parameters=("event_map", "domain"))
        if event_types == ():
            raise UsageError("`event_types` must name at least one event", parameters=("event_types",))
        mapping = domain_event_map(domain, event_map) if domain else None
        return cls(
            event_types if event_types is not None else tuple(mapping or DEFAULT_EVENT_TYPES),
            item_field,
            mapping,
        )


@dataclass
class TransformSummary:
    """messages read = messages written + filtered (by reason) + duplicates + rejected."""

    messages_read: int = 0  # lines holding something, counted as they are read
    files: int = 0
    empty_files: int = 0
    refused_objects: list[str] = field(
        default_factory=list
    )  # S3 objects not read: their key would escape the download folder
    damaged_files: dict[str, str] = field(default_factory=dict)  # file -> what was wrong with it
    messages_written: int = 0
    interactions: int = 0  # CSV rows: a message with a products array gives one per product
    filtered: Counter = field(default_factory=Counter)
    duplicates: int = 0
    rejects: list[Reject] = field(default_factory=list)  # rejected lines, with file and line
    unlocated_rejects: int = 0  # rejected lines an engine counted without locating (Spark)
    events: Counter = field(default_factory=Counter)  # interactions per EVENT_TYPE
    other_events: Counter = field(
        default_factory=Counter
    )  # the most common track events not in --event-types
    users_dataset: UsersDataset | None = None  # when a Users dataset was asked for
    items_dataset: ItemsDataset | None = None  # when an Items dataset was asked for
    seconds: float = 0.0

    @property
    def rejected(self) -> int:
        return len(self.rejects) + self.unlocated_rejects

    @property
    def accounted(self) -> int:
        """What the parts add up to; equals messages_read when nothing went missing."""
        return self.messages_written + sum(self.filtered.values()) + self.duplicates + self.rejected

    def as_dict(self) -> dict:
        """The accounting as plain data (for --json): read = written + filtered + duplicates + rejected."""
        return {
            "messages_read": self.messages_read,
            "messages_written": self.messages_written,
            "interactions": self.interactions,
            "filtered": dict(self.filtered),
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "balanced": self.accounted == self.messages_read,
            "files": self.files,
            "empty_files": self.empty_files,
            "refused_objects": self.refused_objects,
            "damaged_files": self.damaged_files,
            "events": dict(self.events),
            "other_events": dict(self.other_events),
            "items_dataset": None
            if self.items_dataset is None
            else {
                "items": self.items_dataset.items,
                "fields": self.items_dataset.fields,
                "from_catalog": self.items_dataset.from_catalog,
            },
            "users_dataset": None
            if self.users_dataset is None
            else {
                "users": self.users_dataset.users,
                "fields": {f.trait: f.name for f in self.users_dataset.fields},
                "left_out": self.users_dataset.left_out,
                "left_out_as_personal_data": self.users_dataset.personal,
            },
            "seconds": round(self.seconds, 3),
        }
