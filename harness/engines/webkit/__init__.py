"""WebKitGTK's MiniBrowser through WebKitWebDriver, locally under Xvfb or remotely."""
