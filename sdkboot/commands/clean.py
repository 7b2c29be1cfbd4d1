"""placeholder"""
HELP = "todo"
EXAMPLE = "sdkboot clean"


def configure(parser):
    pass


def run(args):
    return 2
