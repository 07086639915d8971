"""One module per subcommand; each parses options, calls one library function and renders."""
