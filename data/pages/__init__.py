"""Synthetic register pages: templates, rendering, ground truth, and COCO / PAGE-XML exports.

    from data.pages import render_page, templates_for
    image, truth = render_page("khai_sinh", "ks-1980s", seed=3)     # PIL image, PageTruth
    truth.entries[0].fields[0].boxes, truth.entries[0].record        # geometry and values

See :mod:`data.pages.render` for how a page is made, :mod:`data.pages.truth` for the ground truth,
:mod:`data.pages.templates` for the layouts (one held-out variant per book) and :mod:`data.pages.export` for
the file formats.
"""
from data.pages.render import DEFAULT_LONG_SIDE, PageRenderer, render_page
from data.pages.templates import (
    SPLITS,
    Column,
    Template,
    TemplateError,
    UnknownTemplateError,
    get_template,
    heldout_template,
    templates,
    templates_for,
)
from data.pages.truth import (
    CellTruth,
    EntryTruth,
    FieldTruth,
    Heading,
    Mark,
    PageTruth,
    Region,
    TextLine,
    check_truth,
)

__all__ = [
    "CellTruth", "Column", "DEFAULT_LONG_SIDE", "EntryTruth", "FieldTruth", "Heading", "Mark", "PageRenderer",
    "PageTruth", "Region", "SPLITS", "Template", "TemplateError", "TextLine", "UnknownTemplateError",
    "check_truth", "get_template", "heldout_template", "render_page", "templates", "templates_for",
]
