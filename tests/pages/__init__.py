"""The invoice pages in headless Chromium."""
