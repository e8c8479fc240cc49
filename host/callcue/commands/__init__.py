"""One module per `callcue` subcommand, each with add_args(parser) and run(args) -> exit
code; run raises callcue.errors.CommandError for the one-line error (cli.py catches it)."""
