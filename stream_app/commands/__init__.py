"""The ``stream-app`` subcommands, one module each: ``add_<command>(sub)`` declares its
parser (cheap: heavy imports wait until the command runs) and ``cmd_<command>(args)``
runs it. ``stream_app.cli`` assembles them."""
