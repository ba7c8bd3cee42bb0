"""The report as one self-contained HTML page: inline SVG charts, inline CSS, no script and no
network; readable on a laptop screen and in print. Every text from the data is escaped."""

from __future__ import annotations

from html import escape

from toolkit.reporting import charts

CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d232a; \
max-width: 60rem; margin: 0 auto; padding: 1.5rem; }
h1 { font-size: 1.6rem; margin-bottom: 0.2rem; } h2 { font-size: 1.2rem; \
border-bottom: 1px solid #d0d7de; padding-bottom: 0.2rem; margin-top: 2rem; }
h3 { font-size: 1rem; margin: 1.2rem 0 0.3rem; } .source { color: #57606a; margin-top: 0; \
word-break: break-all; }
.verdict { padding: 0.8rem 1rem; border-radius: 6px; margin: 1rem 0; } .ready { background: #dafbe1; \
border: 1px solid #4ac26b; } .not-ready { background: #ffebe9; border: 1px solid #ff8182; }
.verdict p { margin: 0.2rem 0; font-weight: 600; } .verdict ul { margin: 0.3rem 0 0 1.2rem; padding: 0; }
table { border-collapse: collapse; margin: 0.5rem 0; font-size: 13px; } \
th, td { border-bottom: 1px solid #d0d7de; padding: 0.25rem 0.6rem; text-align: left; vertical-align: top; }
td.number { text-align: right; font-variant-numeric: tabular-nums; } .fail { color: #cf222e; \
font-weight: 600; } .warn { color: #9a6700; font-weight: 600; } .pass { color: #1a7f37; }
figure { margin: 0.5rem 0 1rem; } figure svg { width: 100%; height: auto; } \
figcaption { color: #57606a; font-size: 12px; }
nav ol { margin: 0.3rem 0 0 1.2rem; padding: 0; columns: 2; } \
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(17rem, 1fr)); gap: 0.8rem; } \
.card { border: 1px solid #d0d7de; border-radius: 6px; padding: 0.5rem 0.7rem; } \
.card h4 { margin: 0 0 0.3rem; font-size: 0.95rem; } .card table { width: 100%; margin: 0.2rem 0; } \
.alert { color: #9a6700; margin: 0.2rem 0; } details summary { cursor: pointer; color: #57606a; }
@media print { body { max-width: none; padding: 0; font-size: 11px; } h2 { break-after: avoid; } \
figure, table, .verdict { break-inside: avoid; } }
"""


def render_page(report: dict) -> str:
    """The page for a report's figures (Report.as_dict()): the verdict, a table of contents, then
    each section under a heading the contents link to."""
    sections = [("key-figures", "Key figures", _key_figures(report))]
    if report["logs"]:
        sections.append(("logs", "The logs", _logs(report["logs"], report["accounting"])))
    if report["interactions"]:
        sections.append(
            ("interactions", "The interactions", _interactions(report["interactions"], report["validation"]))
        )
    checks = (report["validation"] or {}).get("checks", [])
    cold = {c["rule"].split()[1]: c for c in checks if c["rule"].startswith("cold ")}
    for dataset, columns in report.get("profiles", {}).items():
        sections.append(
            (
                f"profile-{dataset}",
                f"The {dataset.capitalize()} dataset",
                _profile(dataset, columns, cold.get(dataset)),
            )
        )
    if report["validation"]:
        sections.append(("rules", "Personalize's rules", _rules([report["validation"], *report["datasets"]])))
    if report["evaluation"]:
        sections.append(
            ("evaluation", 'Anything to learn beyond "most popular"?', _evaluation(report["evaluation"]))
        )
    contents = (
        "<nav><h2>Contents</h2><ol>"
        + "".join(f'<li><a href="#{anchor}">{escape(title)}</a></li>' for anchor, title, _ in sections)
        + "</ol></nav>"
    )
    body = "".join(
        f'<section id="{anchor}"><h2>{escape(title)}</h2>{html}</section>' for anchor, title, html in sections
    )
    return _head(report) + _verdict(report) + contents + body + "</body></html>\n"


def _head(report: dict) -> str:
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Segment to Personalize report: {escape(report['source'])}</title>"
        f"<style>{CSS}</style></head><body>"
        "<h1>What is in the logs, and what Personalize will get</h1>"
        f'<p class="source">{escape(report["source"])}</p>'
    )


def _verdict(report: dict) -> str:
    ready = report["ready_for_personalize"]
    heading = (
        "Ready for Personalize: every rule passes."
        if ready
        else "Not ready for Personalize: fix what is listed first."
    )
    lists = ""
    for title, items in (("To fix", report["to_fix"]), ("To look at", report["to_look_at"])):
        if items:
            lists += f"<p>{title}</p><ul>" + "".join(f"<li>{escape(item)}</li>" for item in items) + "</ul>"
    return (
        f'<section class="verdict {"ready" if ready else "not-ready"}" data-ready="{str(ready).lower()}">'
        f"<p>{heading}</p>{lists}</section>"
    )


def _figure_row(name: str, label: str, value) -> str:
    shown = f"{value:,}" if isinstance(value, int) else escape(str(value))
    return f'<tr><th>{escape(label)}</th><td class="number" data-figure="{escape(name)}">{shown}</td></tr>'


def _key_figures(report: dict) -> str:
    rows = []
    logs, accounting, interactions = report["logs"], report["accounting"], report["interactions"]
    if logs:
        rows.append(_figure_row("messages", "messages in the logs", logs["messages"]))
        rows.append(
            _figure_row("duplicate_copies", "extra copies of a messageId", logs["duplicates"]["extra_copies"])
        )
        late = sum(count for bucket, count in logs["received_lag"].items() if bucket.endswith("later"))
        rows.append(
            _figure_row("received_later", "messages received on a later day than their timestamp", late)
        )
    if accounting:
        rows.append(_figure_row("rejected", "lines that are not messages (rejected)", accounting["rejected"]))
    if interactions:
        rows.append(_figure_row("interactions", "interactions", interactions["interactions"]))
        rows.append(_figure_row("users", "users with interactions", interactions["users"]))
        rows.append(_figure_row("items", "items with interactions", interactions["items"]))
    return "<table>" + "".join(rows) + "</table>"


def _chart(name: str, svg: str, caption: str) -> str:
    return f'<figure data-chart="{escape(name)}">{svg}<figcaption>{escape(caption)}</figcaption></figure>'


def _logs(logs: dict, accounting: dict | None) -> str:
    days = list(logs["per_day"])
    series = {source: [logs["per_day"][day].get(source, 0) for day in days] for source in logs["sources"]}
    out = [
        "<h3>Messages per day, by source</h3>",
        _chart(
            "per_day_by_source",
            charts.stacked_bars(days, series, "messages"),
            "By the day of each message's timestamp (UTC).",
        ),
    ]
    events = logs["events"]
    out += [
        "<h3>Event mix</h3>",
        _chart(
            "events",
            charts.horizontal_bars([e["event"] for e in events], [e["messages"] for e in events], "messages"),
            "Track events by name, other calls by type; the most frequent first.",
        ),
    ]
    for name, steps in logs["funnels"].items():
        notes = [
            f"{s['people']:,}"
            + (f" ({s['of_previous']:.0%} of the step before)" if s["of_previous"] is not None else "")
            for s in steps
        ]
        out += [
            f"<h3>Funnel: {escape(name)}</h3>",
            _chart(
                f"funnel_{name}",
                charts.horizontal_bars(
                    [s["step"] for s in steps], [s["people"] for s in steps], "people", notes
                ),
                "People (anonymousId) who did each step and every step before it.",
            ),
        ]
    identity = logs["identify"]
    out.append(
        "<h3>Identified and anonymous</h3><table>"
        + "".join(_figure_row(k, k.replace("_", " "), v) for k, v in identity.items())
        + "</table>"
    )
    lag = logs["received_lag"]
    total = sum(lag.values()) or 1
    notes = [f"{count:,} ({count / total:.1%})" for count in lag.values()]
    out += [
        "<h3>When messages arrive</h3>",
        _chart(
            "received_lag",
            charts.horizontal_bars(list(lag), list(lag.values()), "messages", notes),
            "receivedAt's day against the timestamp's: mobile libraries batch and send late, and a message "
            "received on a later day lands in a later day's folder.",
        ),
    ]
    duplicates = logs["duplicates"]
    out.append(
        f"<p>Duplicates by messageId: {duplicates['extra_copies']:,} extra copies among "
        f"{duplicates['messages_with_an_id']:,} messages with an id (Segment's at-least-once delivery; "
        "the transform keeps the first received).</p>"
    )
    if accounting:
        parts = [("written", accounting["messages_written"])] + [
            (f"filtered: {reason}", count) for reason, count in accounting["filtered"].items() if count
        ]
        parts += [("duplicates", accounting["duplicates"]), ("rejected", accounting["rejected"])]
        out += [
            "<h3>The transform's accounting</h3>",
            _chart(
                "accounting",
                charts.flow([p for p in parts if p[1]], f"{accounting['messages_read']:,} read"),
                "Every message read: written as interactions, filtered (by reason), a duplicate, or "
                "rejected.",
            ),
        ]
    return "".join(out)


def _interactions(figures: dict, validation: dict | None) -> str:
    out = []
    per_user = figures["per_user"]
    labels = [f"{b['from']}" if b["from"] == b["to"] else f"{b['from']}-{b['to']}" for b in per_user]
    out += [
        "<h3>Interactions per user</h3>",
        _chart(
            "per_user",
            charts.bars(labels, [b["users"] for b in per_user], "interactions", "users", log=True),
            "Users by how many interactions they have (bins double in width; log scale).",
        ),
    ]
    popularity = figures["popularity"]
    out += [
        "<h3>Item popularity</h3>",
        _chart(
            "popularity",
            charts.rank_frequency(
                popularity["ranks"],
                popularity["counts"],
                popularity["slope"],
                popularity["intercept"],
                popularity["verdict"],
            ),
            "Interactions per item by rank, log-log, with diagnose.py's fitted line and verdict.",
        ),
    ]
    heat = figures["hour_by_weekday"]
    out += [
        "<h3>Hour by weekday</h3>",
        _chart(
            "hour_by_weekday",
            charts.heatmap(heat["weekdays"], heat["counts"]),
            "Interactions by UTC hour and weekday.",
        ),
    ]
    days = figures["per_day"]
    out += [
        "<h3>Interactions per day</h3>",
        _chart(
            "interactions_per_day",
            charts.line(list(days), list(days.values()), "interactions"),
            "By the day of TIMESTAMP (UTC).",
        ),
    ]
    if figures["event_types"]:
        kinds = figures["event_types"]
        out += [
            "<h3>Event types</h3>",
            _chart(
                "event_types",
                charts.horizontal_bars(list(kinds), list(kinds.values()), "interactions"),
                "EVENT_TYPE values.",
            ),
        ]
    out.append(
        f"<p>Repeat consumption: {figures['repeat_consumption_rate']:.1%} of interactions are with an item "
        "the user already had.</p>"
    )
    cold = [
        c
        for c in (validation or {}).get("checks", [])
        if c["rule"].startswith(("cold ", "interactions whose"))
    ]
    if cold:
        out.append("<h3>Against the Users and Items datasets</h3>" + _checks_table(cold))
    return "".join(out)


def _checks_table(checks: list[dict]) -> str:
    order = {"fail": 0, "warn": 1, "pass": 2}
    rows = "".join(
        f'<tr><td class="{c["status"]}">{c["status"]}</td><td>{escape(c["rule"])}</td>'
        f"<td>{escape(c['detail'])}"
        + "".join(f"<br><code>{escape(e)}</code>" for e in c.get("examples", []))
        + "</td></tr>"
        for c in sorted(checks, key=lambda c: order[c["status"]])
    )
    return f"<table><tr><th>result</th><th>rule</th><th>detail</th></tr>{rows}</table>"


def _rules(reports: list[dict]) -> str:
    """Per dataset the rules to fix or look at; the passing ones folded away."""
    out = []
    for report in reports:
        verdict = "valid" if report["valid"] else "invalid"
        out.append(
            f"<h3>{escape(report['dataset'])}: {escape(report['path'])}, {report['rows']:,} rows, "
            f'<span class="{"pass" if report["valid"] else "fail"}">{verdict}</span></h3>'
        )
        findings = [c for c in report["checks"] if c["status"] != "pass"]
        passing = [c for c in report["checks"] if c["status"] == "pass"]
        if findings:
            out.append(_checks_table(findings))
        if passing:
            out.append(
                f"<details><summary>{len(passing)} rule{'' if len(passing) == 1 else 's'} pass</summary>"
                f"{_checks_table(passing)}</details>"
            )
    return "".join(out)


def _profile(dataset: str, columns: list[dict], cold: dict | None = None) -> str:
    """A card per column: completeness, distinct values, top values or a histogram, alerts; above
    them, the dataset's cold rows (no interaction to learn from), an alert over the rule's 10%."""
    intro = ""
    if cold is not None:
        level = "alert" if cold["status"] != "pass" else "note"
        intro = (
            f'<p class="{level}" data-cold="{escape(dataset)}">cold {escape(dataset)}: '
            f"{escape(cold['detail'])} (rows with no interaction to learn from; the rule: at most 10%)</p>"
        )
    cards = []
    for column in columns:
        alerts = "".join(f'<p class="alert">{escape(alert)}</p>' for alert in column["alerts"])
        if "histogram" in column:
            bins = column["histogram"]
            detail = charts.histogram(
                [b["from"] for b in bins], [b["to"] for b in bins], [b["rows"] for b in bins]
            )
        else:
            detail = (
                "<table>"
                + "".join(
                    f"<tr><td>{escape(str(top['value'])[:60])}</td>"
                    f'<td class="number">{top["rows"]:,}</td></tr>'
                    for top in column.get("top", [])
                )
                + "</table>"
            )
        cards.append(
            f'<div class="card" data-column="{escape(column["column"])}">'
            f"<h4>{escape(column['column'])}</h4><p>{column['kind']}; "
            f'<span data-figure="complete">{1 - column["missing_share"]:.0%}</span> complete; '
            f'<span data-figure="distinct">{column["distinct"]:,}</span> distinct</p>{alerts}{detail}</div>'
        )
    return intro + f'<div class="cards" data-profile="{escape(dataset)}">' + "".join(cards) + "</div>"


def _evaluation(evaluation: dict) -> str:
    rows = "".join(
        f'<tr><td>{name}</td><td class="number">{scores["hit_rate"]:.3f}</td>'
        f'<td class="number">{scores["ndcg"]:.3f}</td><td class="number">{scores["coverage"]:.1%}</td></tr>'
        for name, scores in (
            ("most popular", evaluation["popularity"]),
            ("item-to-item co-occurrence", evaluation["cooccurrence"]),
        )
    )
    k = evaluation["k"]
    return (
        f"<p>{escape(evaluation['verdict'])}</p>"
        f"<table><tr><th>recommender</th><th>hit rate @{k}</th><th>NDCG @{k}</th>"
        f"<th>catalog coverage @{k}</th></tr>{rows}</table>"
        f"<p>Each of {evaluation['users']:,} users' last interaction held out; ratio of hit rates "
        f"{evaluation['ratio']:.2f}.</p>"
    )
