"""The weekly report's PDF, drawn by ReportLab (platypus for the flow, its own graphics for
the charts): pure CPU work on plain data (`Report`), run in a child process by
server/reports/weekly.py so the event loop is never blocked.

Each section is one function `(report, styles) -> flowables` in `SECTIONS`; a section whose
data is None (a feature not built yet) draws nothing, an empty one says "None".
Everything a user typed is escaped before it reaches a Paragraph (ReportLab's markup)."""

from __future__ import annotations

import datetime as dt
import io
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape

import reportlab
from reportlab.graphics.charts.barcharts import HorizontalBarChart, VerticalBarChart
from reportlab.graphics.charts.legends import Legend
from reportlab.graphics.charts.lineplots import LinePlot
from reportlab.graphics.shapes import Drawing, String
from reportlab.graphics.widgets.markers import makeMarker
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, LETTER
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas
from reportlab.platypus import (
    Flowable,
    Image,
    KeepTogether,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

PAPERS = {"a4": A4, "letter": LETTER}
# Bitstream Vera ships inside ReportLab and covers Turkish (ş ğ ı İ ç ö ü): embedded, so
# the PDF reads the same everywhere; the 14 standard PDF fonts have no ş, ğ or ı.
FONT, BOLD = "FpmVera", "FpmVera-Bold"
INK = colors.HexColor("#1f2937")
MUTED = colors.HexColor("#6b7280")
ACCENT = colors.HexColor("#2563eb")  # the charts' first series (a test looks for it)
SECOND = colors.HexColor("#f59e0b")
THIRD = colors.HexColor("#10b981")
RULE = colors.HexColor("#d1d5db")
STRIPE = colors.HexColor("#f3f4f6")
LABEL_MAX = 28  # characters of a chart label
THUMB_WIDTH = 55 * mm


@dataclass
class Report:
    """Everything the PDF shows, already as the viewer may see it (client users: no costs)."""

    paper: str
    firm: str
    project: str
    client: str | None
    manager: str | None
    status: str
    time_zone: str
    start: dt.date
    end: dt.date  # inclusive
    today: dt.date
    generated_at: dt.datetime
    figures: list[tuple[str, str]]  # label, value (money already formatted or left out)
    tasks_by_status: dict[str, int]
    progress: list[tuple[dt.date, float | None, float | None]]  # day, project %, tasks done %
    shop_drawings_by_status: dict[str, int]
    specs_by_status: dict[str, int]
    register_by_status: dict[str, int]
    overdue: list[tuple[str, dict[str, int]]]  # holder, {task|rfi|review: n}
    submittals: list[tuple[str, ...]]
    submittals_total: int
    # number, title, revision, status, published on, thumbnail (WebP bytes)
    revised: list[tuple[str, str, str, str, str, bytes | None]]
    logo: bytes | None = None
    procurement: list[tuple[str, ...]] | None = None  # not built yet: the section is left out
    snags: dict[str, int] | None = None  # open snags by trade; not built yet
    extra: dict[str, Any] = field(default_factory=dict)


_fonts_ready = False


def _fonts() -> None:
    global _fonts_ready
    if _fonts_ready:
        return
    folder = os.path.join(os.path.dirname(reportlab.__file__), "fonts")
    pdfmetrics.registerFont(TTFont(FONT, os.path.join(folder, "Vera.ttf")))
    pdfmetrics.registerFont(TTFont(BOLD, os.path.join(folder, "VeraBd.ttf")))
    pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=BOLD, italic=FONT, boldItalic=BOLD)
    _fonts_ready = True


def _styles() -> dict[str, ParagraphStyle]:
    base = getSampleStyleSheet()
    body = ParagraphStyle("body", parent=base["BodyText"], fontName=FONT, fontSize=9,
                          leading=12, textColor=INK)
    return {
        "body": body,
        "small": ParagraphStyle("small", parent=body, fontSize=7.5, leading=9.5),
        "muted": ParagraphStyle("muted", parent=body, textColor=MUTED),
        "h1": ParagraphStyle("h1", parent=body, fontName=BOLD, fontSize=24, leading=30,
                             spaceAfter=6 * mm),
        "h2": ParagraphStyle("h2", parent=body, fontName=BOLD, fontSize=13, leading=17,
                             spaceBefore=5 * mm, spaceAfter=3 * mm, textColor=ACCENT),
        "cover": ParagraphStyle("cover", parent=body, fontSize=13, leading=19),
    }


def text(value: object) -> str:
    """A value as Paragraph markup: escaped, never interpreted."""
    return escape("" if value is None else str(value))


def label(value: str) -> str:
    value = value.replace("_", " ")
    return value if len(value) <= LABEL_MAX else value[:LABEL_MAX - 1] + "…"


def day(value: dt.date) -> str:
    return f"{value.day} {value:%b %Y}"


def money(value: Decimal | None) -> str:
    return "—" if value is None else f"{value:,.2f}"


# --- pages: header, footer, "Page n of m" ------------------------------------------------


class NumberedCanvas(canvas.Canvas):
    """Holds the pages back until the end, so each footer can say how many there are."""

    def __init__(self, *args: Any, report: Report, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self._saved: list[dict[str, Any]] = []
        self._report = report
        self._logo = ImageReader(io.BytesIO(report.logo)) if report.logo else None

    def showPage(self) -> None:
        self._saved.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._saved)
        for state in self._saved:
            self.__dict__.update(state)
            self._decorate(total)
            super().showPage()
        super().save()

    def _decorate(self, total: int) -> None:
        width, height = self._pagesize
        margin = 18 * mm
        report = self._report
        self.saveState()
        self.setStrokeColor(RULE)
        self.setLineWidth(0.5)
        top = height - 14 * mm
        x = margin
        if self._logo is not None:
            w, h = self._logo.getSize()
            scale = min(30 * mm / w, 9 * mm / h)
            self.drawImage(self._logo, x, top - 1.5 * mm, w * scale, h * scale, mask="auto")
            x += w * scale + 3 * mm
        self.setFont(BOLD, 9)
        self.setFillColor(INK)
        self.drawString(x, top + 1 * mm, report.firm[:80])
        self.setFont(FONT, 8)
        self.setFillColor(MUTED)
        self.drawRightString(width - margin, top + 1 * mm,
                             f"{report.project[:60]} · {day(report.start)} – {day(report.end)}")
        self.line(margin, top - 3 * mm, width - margin, top - 3 * mm)
        self.line(margin, 14 * mm, width - margin, 14 * mm)
        self.drawString(margin, 9 * mm, f"Generated {report.generated_at:%Y-%m-%d %H:%M} "
                                        f"({report.time_zone})")
        self.drawRightString(width - margin, 9 * mm, f"Page {self._pageNumber} of {total}")
        self.restoreState()


# --- charts ---------------------------------------------------------------------------


def _titled(width: float, height: float, title: str) -> Drawing:
    drawing = Drawing(width, height)
    drawing.add(String(0, height - 10, title, fontName=BOLD, fontSize=9, fillColor=INK))
    return drawing


def _empty(drawing: Drawing, message: str) -> Drawing:
    drawing.add(String(drawing.width / 2, drawing.height / 2, message, fontName=FONT,
                       fontSize=8, fillColor=MUTED, textAnchor="middle"))
    return drawing


def progress_chart(report: Report, width: float) -> Drawing:
    """Project progress (the audit log's values) and share of tasks done, day by day."""
    drawing = _titled(width, 56 * mm, "Progress over the period (%)")
    series = [[(i, p) for i, (_, p, _) in enumerate(report.progress) if p is not None],
              [(i, t) for i, (_, _, t) in enumerate(report.progress) if t is not None]]
    if not any(series):
        return _empty(drawing, "No progress recorded")
    plot = LinePlot()
    plot.x, plot.y = 28, 30
    plot.width, plot.height = width - 40, drawing.height - 58
    plot.data = [s if s else [(0, 0)] for s in series]
    plot.lines[0].strokeColor, plot.lines[0].strokeWidth = ACCENT, 2
    plot.lines[1].strokeColor, plot.lines[1].strokeWidth = SECOND, 1.5
    plot.lines[1].strokeDashArray = (3, 2)
    for line, colour in ((plot.lines[0], ACCENT), (plot.lines[1], SECOND)):
        line.symbol = makeMarker("FilledCircle", size=3.5, fillColor=colour,
                                 strokeColor=colour)
    plot.yValueAxis.valueMin, plot.yValueAxis.valueMax, plot.yValueAxis.valueStep = 0, 100, 20
    last = max(len(report.progress) - 1, 1)
    plot.xValueAxis.valueMin, plot.xValueAxis.valueMax = 0, last
    step = max(1, round(last / 7))
    plot.xValueAxis.valueSteps = list(range(0, last + 1, step))
    days = [d for d, _, _ in report.progress]
    plot.xValueAxis.labelTextFormat = lambda i: f"{days[int(i)]:%d %b}" if int(i) < len(days) \
        else ""
    for axis in (plot.xValueAxis, plot.yValueAxis):
        axis.labels.fontName, axis.labels.fontSize = FONT, 7
    drawing.add(plot)
    legend = Legend()
    legend.x, legend.y = 30, 10
    legend.fontName, legend.fontSize = FONT, 7
    legend.alignment, legend.columnMaximum, legend.dx, legend.deltax = "right", 1, 8, 120
    legend.colorNamePairs = [(ACCENT, "Project progress (audit log)"),
                             (SECOND, "Tasks completed")]
    drawing.add(legend)
    return drawing


def bar_chart(title: str, counts: dict[str, int], width: float,
              color: colors.Color = ACCENT) -> Drawing:
    drawing = _titled(width, 48 * mm, title)
    items = [(k, v) for k, v in counts.items() if v]
    if not items:
        return _empty(drawing, "None")
    chart = VerticalBarChart()
    chart.x, chart.y = 26, 38
    chart.width = min(width - 34, 36 * len(items) + 12)  # no wide slabs for one or two bars
    chart.height = drawing.height - 66  # room for the bar labels under the title
    chart.data = [[v for _, v in items]]
    chart.categoryAxis.categoryNames = [label(k) for k, _ in items]
    chart.categoryAxis.labels.angle = 30
    chart.categoryAxis.labels.boxAnchor = "ne"
    chart.bars[0].fillColor = color
    chart.bars.strokeColor = None
    chart.valueAxis.valueMin = 0
    top = max(v for _, v in items)
    chart.valueAxis.valueStep = max(1, -(-top // 5))
    chart.barLabelFormat = "%d"
    chart.barLabels.fontName, chart.barLabels.fontSize = FONT, 6.5
    chart.barLabels.nudge = 5
    for axis in (chart.categoryAxis, chart.valueAxis):
        axis.labels.fontName, axis.labels.fontSize = FONT, 6.5
    drawing.add(chart)
    return drawing


KINDS = (("task", "Tasks", ACCENT), ("rfi", "RFIs", SECOND), ("review", "Reviews", THIRD))


def overdue_chart(report: Report, width: float) -> Drawing:
    rows = report.overdue[:12]
    height = max(40 * mm, (len(rows) * 14 + 60))
    drawing = _titled(width, height, f"Overdue items by ball in court (as of {day(report.today)})")
    if not rows:
        return _empty(drawing, "Nothing overdue")
    chart = HorizontalBarChart()
    chart.x, chart.y = 120, 28
    chart.width, chart.height = width - 135, height - 50
    chart.data = [[kinds.get(k, 0) for _, kinds in reversed(rows)] for k, _, _ in KINDS]
    chart.categoryAxis.categoryNames = [label(name) for name, _ in reversed(rows)]
    chart.categoryAxis.style = "stacked"
    for i, (_, _, color) in enumerate(KINDS):
        chart.bars[i].fillColor = color
    chart.bars.strokeColor = None
    chart.valueAxis.valueMin = 0
    top = max(sum(k.values()) for _, k in rows)
    chart.valueAxis.valueStep = max(1, -(-top // 5))
    for axis in (chart.categoryAxis, chart.valueAxis):
        axis.labels.fontName, axis.labels.fontSize = FONT, 7
    drawing.add(chart)
    legend = Legend()
    legend.x, legend.y = 120, 10
    legend.fontName, legend.fontSize = FONT, 7
    legend.alignment, legend.columnMaximum, legend.dx, legend.deltax = "right", 1, 8, 70
    legend.colorNamePairs = [(color, name) for _, name, color in KINDS]
    drawing.add(legend)
    return drawing


# --- sections -------------------------------------------------------------------------

Styles = dict[str, ParagraphStyle]
Section = Callable[[Report, Styles, float], list[Flowable]]


def _table(rows: Sequence[Sequence[object]], widths: Sequence[float], styles: Styles,
           header: bool = True) -> Table:
    cell = styles["small"]
    # A text that fits its column on one line is drawn as a plain string (a tenth of a
    # Paragraph's cost: the submittal log has hundreds of rows); a longer one wraps.
    fits = [int((w - 12) / (cell.fontSize * 0.56)) for w in widths]
    data = [[str(v) if v is not None and len(str(v)) <= fits[i] and "\n" not in str(v)
             else Paragraph(text(v), cell) for i, v in enumerate(row)] for row in rows]
    table = Table(data, colWidths=list(widths), repeatRows=1 if header else 0)
    commands: list[tuple[Any, ...]] = [
        ("FONT", (0, 0), (-1, -1), FONT, cell.fontSize, cell.leading),
        ("TEXTCOLOR", (0, 0), (-1, -1), INK),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LINEBELOW", (0, 0), (-1, -1), 0.25, RULE),
        ("TOPPADDING", (0, 0), (-1, -1), 2), ("BOTTOMPADDING", (0, 0), (-1, -1), 2)]
    if header:
        commands += [("BACKGROUND", (0, 0), (-1, 0), STRIPE),
                     ("LINEBELOW", (0, 0), (-1, 0), 0.8, INK)]
    table.setStyle(TableStyle(commands))
    return table


def cover(report: Report, styles: Styles, width: float) -> list[Flowable]:
    out: list[Flowable] = [Spacer(1, 30 * mm)]
    if report.logo:
        reader = ImageReader(io.BytesIO(report.logo))
        w, h = reader.getSize()
        scale = min(60 * mm / w, 25 * mm / h)
        out += [Image(io.BytesIO(report.logo), w * scale, h * scale, hAlign="LEFT"),
                Spacer(1, 8 * mm)]
    out += [Paragraph(text(report.firm), styles["cover"]),
            Paragraph("Weekly project report", styles["h1"]),
            Paragraph(f"<b>{text(report.project)}</b>", styles["cover"])]
    lines = [("Client", report.client or "—"), ("Project manager", report.manager or "—"),
             ("Status", report.status.replace("_", " ")),
             ("Period", f"{day(report.start)} – {day(report.end)} ({report.time_zone})"),
             ("Generated", f"{report.generated_at:%Y-%m-%d %H:%M}")]
    out.append(Spacer(1, 8 * mm))
    out += [Paragraph(f"{text(k)}: <b>{text(v)}</b>", styles["cover"]) for k, v in lines]
    out.append(PageBreak())
    return out


def summary(report: Report, styles: Styles, width: float) -> list[Flowable]:
    out: list[Flowable] = [Paragraph("Summary", styles["h2"])]
    half = width / 2 - 3 * mm
    figures = _table([("Figure", "Value"), *report.figures], [half * 0.62, half * 0.38], styles)
    statuses = _table([("Tasks by status", "Count"),
                       *((label(k), str(v)) for k, v in report.tasks_by_status.items())]
                      or [("—", "0")], [half * 0.62, half * 0.38], styles)
    grid = Table([[figures, statuses]], colWidths=[width / 2, width / 2])
    grid.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"),
                              ("LEFTPADDING", (0, 0), (-1, -1), 0)]))
    out.append(grid)
    return out


def charts(report: Report, styles: Styles, width: float) -> list[Flowable]:
    third = width / 3 - 2 * mm
    out: list[Flowable] = [Paragraph("Charts", styles["h2"]), progress_chart(report, width),
                           Spacer(1, 4 * mm)]
    row = Table([[bar_chart("Shop drawings", report.shop_drawings_by_status, third),
                  bar_chart("Material specs", report.specs_by_status, third, SECOND),
                  bar_chart("Drawing register (current)", report.register_by_status, third,
                            THIRD)]], colWidths=[width / 3] * 3)
    row.setStyle(TableStyle([("LEFTPADDING", (0, 0), (-1, -1), 0)]))
    out += [Paragraph("By status", styles["body"]), row, Spacer(1, 4 * mm),
            KeepTogether([overdue_chart(report, width)])]
    return out


def submittal_log(report: Report, styles: Styles, width: float) -> list[Flowable]:
    out: list[Flowable] = [Paragraph("Submittal log", styles["h2"])]
    if not report.submittals:
        return [*out, Paragraph("None.", styles["body"])]
    fractions = (0.13, 0.11, 0.27, 0.07, 0.14, 0.14, 0.14)
    rows = [("Type", "Number", "Title", "Rev", "Status", "Submitted", "Decided"),
            *report.submittals]
    out.append(_table(rows, [width * f for f in fractions], styles))
    if report.submittals_total > len(report.submittals):
        out.append(Paragraph(f"… and {report.submittals_total - len(report.submittals):,} more "
                             "(the full log: the shop drawing and material spec lists as CSV "
                             "or XLSX).", styles["muted"]))
    return out


def procurement(report: Report, styles: Styles, width: float) -> list[Flowable]:
    """The procurement schedule, at-risk rows marked: left out until procurement exists."""
    if report.procurement is None:
        return []
    out: list[Flowable] = [Paragraph("Procurement schedule", styles["h2"])]
    if not report.procurement:
        return [*out, Paragraph("None.", styles["body"])]
    columns = len(report.procurement[0])
    return [*out, _table(report.procurement, [width / columns] * columns, styles)]


def snags(report: Report, styles: Styles, width: float) -> list[Flowable]:
    """Open snags by trade: left out until snags exist."""
    if report.snags is None:
        return []
    out: list[Flowable] = [Paragraph("Open snags by trade", styles["h2"])]
    if not any(report.snags.values()):
        return [*out, Paragraph("None.", styles["body"])]
    return [*out, bar_chart("Open snags by trade", report.snags, width)]


def revised_drawings(report: Report, styles: Styles, width: float) -> list[Flowable]:
    out: list[Flowable] = [Paragraph("Drawings revised in the period", styles["h2"])]
    if not report.revised:
        return [*out, Paragraph("None.", styles["body"])]
    per_row = max(1, int(width // (THUMB_WIDTH + 4 * mm)))
    cells: list[list[Flowable] | str] = []
    for number, title, revision, status, published, thumb in report.revised:
        caption = Paragraph(f"<b>{text(number)}</b> {text(revision)} ({text(status)})<br/>"
                            f"{text(title)}<br/>{text(published)}", styles["small"])
        parts: list[Flowable] = []
        if thumb:
            picture = _thumbnail(thumb)
            if picture is not None:
                parts.append(picture)
        parts.append(caption)
        cells.append(parts)  # a list of flowables: one cell
    rows = [cells[i:i + per_row] for i in range(0, len(cells), per_row)]
    rows[-1] += [""] * (per_row - len(rows[-1]))
    grid = Table(rows, colWidths=[width / per_row] * per_row)
    grid.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"),
                              ("BOTTOMPADDING", (0, 0), (-1, -1), 6)]))
    return [*out, grid]


def _thumbnail(data: bytes) -> Flowable | None:
    """A stored WebP thumbnail as a PNG image of THUMB_WIDTH; None when it does not decode."""
    from PIL import Image as PilImage  # Pillow: a dependency already (thumbnails)

    try:
        with PilImage.open(io.BytesIO(data)) as picture:
            picture.thumbnail((800, 800))
            png = io.BytesIO()
            picture.convert("RGB").save(png, "PNG")
            w, h = picture.size
    except Exception:  # a bad thumbnail is left out, the report still goes
        return None
    png.seek(0)
    height = min(THUMB_WIDTH * h / w, 70 * mm)
    return Image(png, height * w / h, height, hAlign="LEFT")


SECTIONS: tuple[Section, ...] = (cover, summary, charts, submittal_log, procurement, snags,
                                 revised_drawings)


def render(report: Report) -> bytes:
    """The report as PDF bytes."""
    _fonts()
    styles = _styles()
    out = io.BytesIO()
    size = PAPERS[report.paper]
    document = SimpleDocTemplate(
        out, pagesize=size, leftMargin=18 * mm, rightMargin=18 * mm, topMargin=24 * mm,
        bottomMargin=20 * mm, title=f"Weekly report — {report.project}",
        author=report.firm, subject=f"{report.start} – {report.end}", creator="Formula PM")
    width = size[0] - 36 * mm
    story: list[Flowable] = []
    for section in SECTIONS:
        story += section(report, styles, width)
    document.build(story, canvasmaker=lambda *a, **kw: NumberedCanvas(*a, report=report, **kw))
    return out.getvalue()
