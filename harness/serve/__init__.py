"""What browsers connect to: the run CA, the proxy and its wire witness, the pages, the lab."""
