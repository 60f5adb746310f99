"""Where a run's intent comes from besides argv: the config file, OpenAPI documents, HAR recordings."""  # noqa: E501
