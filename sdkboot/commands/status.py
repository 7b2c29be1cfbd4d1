"""placeholder"""
HELP = "todo"
EXAMPLE = "sdkboot status"


def configure(parser):
    pass


def run(args):
    return 2
