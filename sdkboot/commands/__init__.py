"""One module per ``sdkboot`` subcommand: each has HELP, EXAMPLE, configure() and run()."""
