"""`usage-billing pdf`: an invoice as a PDF file, printed by headless Chromium from the invoice
page's own template (usage_billing/pages/templates/invoice.html), so the PDF and the page
never disagree. The stylesheet is inlined and the print rules of pages.css (A4, no navigation)
apply; the usage charts and revision history stay on the page.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from usage_billing.errors import ConfigError
from usage_billing.marts.figures import period_text
from usage_billing.marts.model import Invoice, Revision
from usage_billing.marts.reader import changed_after_final
from usage_billing.pages.routes import STATIC_DIR, templates

CHROMIUM_VARIABLE = "USAGE_BILLING_CHROMIUM"
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
PRINT_TIMEOUT_SECONDS = 120


def find_chromium() -> str:
    """The browser that prints: USAGE_BILLING_CHROMIUM, else the first Chromium on PATH."""
    configured = os.environ.get(CHROMIUM_VARIABLE)
    if configured:
        found = shutil.which(configured)
        if found is None:
            raise ConfigError(f"{CHROMIUM_VARIABLE}={configured!r} is not an executable")
        return found
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    raise ConfigError(
        "`usage-billing pdf` prints with headless Chromium, and none is on PATH: install it"
        " (Debian/Ubuntu: `apt-get install chromium`; macOS: Google Chrome) or set"
        f" {CHROMIUM_VARIABLE} to the browser's executable"
    )


def file_name(invoice_id: str) -> str:
    """The PDF's file name: the invoice id with every character a path or a shell would
    misread made '_' (sub_acme_api/2022-10-01 → sub_acme_api_2022-10-01.pdf)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", invoice_id).strip("._") + ".pdf"


def invoice_html(invoice: Invoice, revisions: list[Revision]) -> str:
    """The invoice page's HTML as one self-contained document (stylesheet inlined)."""
    return templates.env.get_template("invoice.html").render(
        invoice=invoice,
        period=period_text(invoice),
        revisions=revisions,
        revised=changed_after_final(revisions),
        usage=[],
        document=True,
        inline_css=(STATIC_DIR / "pages.css").read_text(encoding="utf-8"),
        url_for=lambda *args, **kwargs: "",  # no links: nothing to serve them
    )


def print_pdf(html: str, target: Path, chromium: str) -> None:
    """`html` printed to `target` by headless Chromium, in a throwaway profile."""
    with tempfile.TemporaryDirectory(prefix="usage-billing-pdf-") as work:
        page = Path(work) / "invoice.html"
        page.write_text(html, encoding="utf-8")
        printed = Path(work) / "invoice.pdf"
        command = [
            chromium,
            "--headless",
            "--no-sandbox",  # containers and CI run as root, where the sandbox cannot start
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--no-pdf-header-footer",
            f"--user-data-dir={Path(work) / 'profile'}",
            f"--print-to-pdf={printed}",
            page.as_uri(),
        ]
        try:
            result = subprocess.run(  # noqa: S603 - a fixed command, the browser found above
                command,
                capture_output=True,
                text=True,
                timeout=PRINT_TIMEOUT_SECONDS,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise ConfigError(
                f"{chromium} did not print within {PRINT_TIMEOUT_SECONDS} s"
            ) from None
        if not printed.is_file() or not printed.read_bytes().startswith(b"%PDF"):
            detail = (result.stderr or result.stdout).strip().splitlines()[-3:]
            raise ConfigError(
                f"{chromium} printed no PDF (exit {result.returncode}): " + " / ".join(detail)
            )
        shutil.move(printed, target)


def write_pdfs(
    invoices: list[tuple[Invoice, list[Revision]]], directory: Path, chromium: str
) -> list[Path]:
    """One PDF per invoice in `directory` (created if missing); the paths written, in order."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for invoice, revisions in invoices:
        target = directory / file_name(invoice.invoice_id)
        if target in written:
            raise ConfigError(
                f"invoices {invoice.invoice_id!r} and another both make {target.name}: print"
                " them into different --out directories"
            )
        print_pdf(invoice_html(invoice, revisions), target, chromium)
        written.append(target)
    return written
