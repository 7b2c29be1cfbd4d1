"""placeholder"""
HELP = "todo"
EXAMPLE = "sdkboot doctor"


def configure(parser):
    pass


def run(args):
    return 2
