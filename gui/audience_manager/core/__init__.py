"""The vocabulary of the app, pure Python: no Qt, no network, no disk beyond reading an input file."""
