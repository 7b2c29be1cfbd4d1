"""placeholder"""
HELP = "todo"
EXAMPLE = "sdkboot hook"


def configure(parser):
    pass


def run(args):
    return 2
