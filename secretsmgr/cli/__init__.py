"""The command-line interface: option parsing, rendering, and the one exit-code mapping."""
