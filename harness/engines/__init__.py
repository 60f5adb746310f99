"""The browsers: one protocol; Playwright (Chromium, Firefox); WebKitGTK over WebDriver."""
