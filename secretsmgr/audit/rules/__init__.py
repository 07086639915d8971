"""One module per audit rule, each exporting ``RULE``; ``audit.registry`` lists them in id order."""
