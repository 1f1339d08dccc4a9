"""seesay's commands, one module per job: each has HELP, add_arguments(parser) and run(args) -> int.

Commands are the only code that prints or exits. Other packages add commands through the entry-point
group `seesay.commands` (training adds train, evaluate, pack and export-onnx that way), so nothing here imports them.
"""

BUILT_IN = ("caption", "read", "colour", "index", "forget", "search", "export", "app", "live", "watch", "say")
