"""What each Segment library puts in a message: ids, context, channel (how it sends: simulate/delivery.py).

Shapes follow real messages as Segment stores them (../shared/reference/segment-examples.jsonl)
and the named versions' code (FACTS 2b, 2c): analytics.js (next-1.53.0) sends page, userAgent,
`userAgentData` on Chromium browsers, locale, `_metadata`, `campaign` only when the page's URL has
UTM parameters, no timezone (1.57.0 added it), and its stored lines carry no writeKey;
analytics-android (4.11.3) sends app, device (a SHA-256 `id`, `advertisingId` only when ad
tracking is enabled), os, network, screen, `instanceId` and its traits cache in `context.traits`
(the anonymousId alone until the device's identify); analytics-ios (4.1.8, no ad support
configured) sends `instanceId`, no advertising fields and its traits cache ({} until identify);
analytics-kotlin (1.19) and analytics-swift (1.7), their successors, send `instanceId`,
`_metadata` with nothing bundled, a device id (kotlin: the anonymousId, collectDeviceId being off;
swift: the vendor id), no advertising fields without an advertising plugin and no
`context.traits`, and kotlin's screen calls a `category` ("" by default); analytics-python sends
library only. Page views are `page` calls on the web and `screen` calls in apps.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

LOCALES = ("en-US", "en-GB", "en-CA", "en-AU", "es-US", "fr-CA")
TIMEZONES = (
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "Europe/London",
    "America/Toronto",
)
CARRIERS = ("T-Mobile", "Verizon", "AT&T", "Vodafone", "Sprint")
BROWSERS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/{v}.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.{m} Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0",
)
ANDROID_DEVICES = (
    ("Google", "Pixel 7", "panther"),
    ("Google", "Pixel 8", "shiba"),
    ("samsung", "SM-S911B", "dm1q"),
    ("OnePlus", "CPH2449", "OP594DL1"),
)
IOS_DEVICES = (
    ("iPhone12,3", "iPhone"),
    ("iPhone14,5", "iPhone"),
    ("iPhone15,2", "iPhone"),
    ("iPad13,4", "iPad"),
)
SITE = "https://shop.example.com"
PAGES = (("/", "Home"), ("/search", "Search"), ("/products", "Products"), ("/sale", "Sale"))
REFERRERS = ("", "https://www.google.com/", "https://www.facebook.com/")
# Landing from an ad: the URL's UTM parameters, which analytics.js copies into context.campaign
CAMPAIGNS = (
    ("google", "cpc", "spring_sale"),
    ("facebook", "social", "buy_now"),
    ("newsletter", "email", "huge_discounts"),
)
UTM_SHARE = 0.25  # of web device variants landing from a campaign


def _pick(rng: random.Random, options: tuple):
    return options[int(rng.random() * len(options))]


def page_context(
    path: str, title: str, referrer: str, campaign: tuple[str, str, str] | None = None, search: str = ""
) -> dict:
    """analytics.js's context.page for a page of the site: its query string is `search`, or a
    campaign's UTM parameters."""
    if campaign is not None:
        search = "?utm_source={}&utm_medium={}&utm_campaign={}".format(*campaign)
    return {"path": path, "referrer": referrer, "search": search, "title": title, "url": SITE + path + search}


def campaign_context(campaign: tuple[str, str, str]) -> dict:
    """analytics.js's context.campaign: the UTM parameters of the page's URL, named without utm_."""
    source, medium, name = campaign
    return {"medium": medium, "name": name, "source": source}


def page_of_title(title: str) -> tuple[str, str]:
    """(path, title) of the site's page with this title; a title the site has no page for gets /<slug>."""
    for path, known in PAGES:
        if known == title:
            return path, title
    return "/" + "-".join(title.lower().split()), title


def _web_context(rng: random.Random) -> dict:
    """A browser and its landing page (from a campaign for UTM_SHARE of them)."""
    path, title = _pick(rng, PAGES)
    campaign = _pick(rng, CAMPAIGNS) if rng.random() < UTM_SHARE else None
    version = rng.randint(110, 124)
    browser = _pick(rng, BROWSERS)
    context = {
        "library": {"name": "analytics.js", "version": "next-1.53.0"},
        "locale": _pick(rng, LOCALES),
        "page": page_context(path, title, _pick(rng, REFERRERS), campaign),
        "timezone": _pick(rng, TIMEZONES),  # the browser's; next-1.53.0 does not send it (sends_timezone)
        "userAgent": browser.format(v=version, m=version % 5),
    }
    if "Chrome/" in browser:  # navigator.userAgentData's low-entropy values (Chromium only)
        context["userAgentData"] = {
            "brands": [
                {"brand": "Not_A Brand", "version": "8"},
                {"brand": "Chromium", "version": str(version)},
                {"brand": "Google Chrome", "version": str(version)},
            ],
            "mobile": False,
            "platform": "Windows",
        }
    if campaign is not None:
        context["campaign"] = campaign_context(campaign)
    return context


def _network(rng: random.Random, bluetooth: bool) -> dict:
    wifi = rng.random() < 0.6
    network = {"carrier": _pick(rng, CARRIERS), "cellular": not wifi, "wifi": wifi}
    if bluetooth:
        network["bluetooth"] = rng.random() < 0.3
    return network


def _app(rng: random.Random, namespace: str) -> dict:
    minor = rng.randint(2, 4)
    return {"build": str(400 + minor), "name": "Shop", "namespace": namespace, "version": f"4.{minor}.0"}


def _android_context(rng: random.Random) -> dict:
    manufacturer, model, name = _pick(rng, ANDROID_DEVICES)
    release = str(rng.randint(11, 14))
    return {
        "app": _app(rng, "com.example.shop"),
        "device": {
            "adTrackingEnabled": rng.random() < 0.7,
            "manufacturer": manufacturer,
            "model": model,
            "name": name,
            "type": "android",
        },
        "library": {"name": "analytics-android", "version": "4.11.3"},
        "locale": _pick(rng, LOCALES),
        "network": _network(rng, bluetooth=True),
        "os": {"name": "Android", "version": release},
        "screen": {
            "density": _pick(rng, (2.0, 2.625, 2.75, 3.0)),
            "height": _pick(rng, (2176, 2340, 2400)),
            "width": 1080,
        },
        "timezone": _pick(rng, TIMEZONES),
        "traits": {},
        "userAgent": f"Dalvik/2.1.0 (Linux; U; Android {release}; {model} Build/UQ1A.240105.004)",
    }


def _ios_context(rng: random.Random) -> dict:
    model, name = _pick(rng, IOS_DEVICES)
    return {
        "app": _app(rng, "com.example.shop.ios"),
        "device": {"manufacturer": "Apple", "model": model, "name": name, "type": "ios"},
        "library": {"name": "analytics-ios", "version": "4.1.8"},
        "locale": _pick(rng, LOCALES),
        "network": _network(rng, bluetooth=False),
        "os": {"name": "iOS", "version": _pick(rng, ("16.7", "17.4", "17.5"))},
        "screen": {"height": _pick(rng, (812, 844, 926)), "width": _pick(rng, (375, 390, 428))},
        "timezone": _pick(rng, TIMEZONES),
        "traits": {},
    }


def _kotlin_context(rng: random.Random) -> dict:
    context = _android_context(rng)
    del (
        context["traits"],
        context["device"]["adTrackingEnabled"],
    )  # no advertising plugin; traits stay out of the context
    context["library"] = {"name": "analytics-kotlin", "version": "1.19.2"}
    return context


def _swift_context(rng: random.Random) -> dict:
    context = _ios_context(rng)
    del context["traits"]
    context["library"] = {"name": "analytics-swift", "version": "1.7.3"}
    return context


def _python_context(rng: random.Random) -> dict:
    return {"library": {"name": "analytics-python", "version": "2.4.0"}}


ID_FORMATS = (
    "uuid",
    "UUID",
    "hex16",
    "sha256",
    "ajs",
)  # lower/upper-case UUID, 16 hex digits, 64 hex digits, ajs-next-<32 hex>
PLACEHOLDER = "@{}@"  # a per-user value inside a context template, e.g. "@ip@"


@dataclass(frozen=True)
class Library:
    """One Segment library's habits.

    `context` draws what many users share (device model, app, locale...); `context_template`
    marks where a user's own values go (ip, device and instance ids, the identity traits mobile
    libraries echo) and, for analytics.js, each message's own page and campaign.
    """

    name: str
    channel: str
    context: Callable[[random.Random], dict]
    message_id: str  # one of ID_FORMATS
    anonymous_id: str
    device_ids: dict[str, str]  # context.device field -> one of ID_FORMATS
    null_user_id: bool  # analytics.js sends "userId": null before identify; others omit it
    instance_id: str | None = None  # context.instanceId's format: a new id each time the app starts
    advertising_when_tracking: bool = False  # device.advertisingId only when device.adTrackingEnabled
    # context.traits and identify's traits after the device's first identify: every identify trait,
    # anonymousId and userId; before it, "anonymousId" (android's cache starts with it) or "empty" ({})
    traits_cache: str | None = None
    metadata: dict | None = None  # the message's _metadata
    view_call: str = "screen"  # the call a page or screen view makes: "page" on the web, "screen" in apps
    sends_timezone: bool = True  # context.timezone (the device's, which its local time follows)
    stored_write_key: bool = True  # Segment's stored lines keep the writeKey (not analytics.js's)
    screen_category: bool = False  # screen calls carry a top-level "category" ("" when none is given)
    device_id_is_anonymous_id: bool = False  # context.device.id is the anonymousId

    def __post_init__(self) -> None:
        formats = [
            self.message_id,
            self.anonymous_id,
            *self.device_ids.values(),
            *([self.instance_id] if self.instance_id else []),
        ]
        assert all(f in ID_FORMATS for f in formats), f"{self.name}: id formats must be among {ID_FORMATS}"

    @property
    def per_message_page(self) -> bool:
        """analytics.js reads context.page (and context.campaign) from the page each call is made on."""
        return self.name == "analytics.js"

    def context_template(self, shared: dict) -> dict:
        context = dict(shared, ip=PLACEHOLDER.format("ip"))
        if not self.sends_timezone:
            context.pop("timezone", None)
        if self.device_ids:
            context["device"] = {
                **shared["device"],
                **{field: PLACEHOLDER.format(field) for field in self.device_ids},
            }
        if "traits" in shared:
            context["traits"] = PLACEHOLDER.format("traits")
        if self.instance_id:
            context["instanceId"] = PLACEHOLDER.format("instanceId")
        if self.per_message_page:
            context["page"] = PLACEHOLDER.format("page")
            context["campaign"] = PLACEHOLDER.format("campaign")  # a whole member, or nothing
        return context


AJS_METADATA = {"bundled": ["Segment.io"], "bundledIds": [], "unbundled": []}
NOTHING_BUNDLED: dict[str, list] = {"bundled": [], "bundledIds": [], "unbundled": []}  # kotlin, swift
OPTIONAL_MEMBERS = (
    "advertisingId",
    "campaign",
)  # placeholders standing for a whole "key":value, member, or nothing

LIBRARIES = {
    "analytics.js": Library(
        "analytics.js",
        "client",
        _web_context,
        "ajs",
        "uuid",
        {},
        True,
        metadata=AJS_METADATA,
        view_call="page",
        sends_timezone=False,
        stored_write_key=False,
    ),
    "analytics-android": Library(
        "analytics-android",
        "server",
        _android_context,
        "uuid",
        "uuid",
        {"advertisingId": "uuid", "id": "sha256"},
        False,
        instance_id="uuid",
        advertising_when_tracking=True,
        traits_cache="anonymousId",
    ),
    "analytics-ios": Library(
        "analytics-ios",
        "server",
        _ios_context,
        "UUID",
        "UUID",
        {"id": "UUID"},
        False,
        instance_id="UUID",
        traits_cache="empty",
    ),
    "analytics-kotlin": Library(
        "analytics-kotlin",
        "server",
        _kotlin_context,
        "uuid",
        "uuid",
        {"id": "uuid"},
        False,
        instance_id="uuid",
        metadata=NOTHING_BUNDLED,
        screen_category=True,
        device_id_is_anonymous_id=True,
    ),
    "analytics-swift": Library(
        "analytics-swift",
        "server",
        _swift_context,
        "UUID",
        "UUID",
        {"id": "UUID"},
        False,
        instance_id="UUID",
        metadata=NOTHING_BUNDLED,
    ),
    "analytics-python": Library(
        "analytics-python",
        "server",
        _python_context,
        "uuid",
        "uuid",
        {},
        False,
        view_call="page",
    ),
}
