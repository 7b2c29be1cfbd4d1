"""placeholder"""
HELP = "todo"
EXAMPLE = "sdkboot report"


def configure(parser):
    pass


def run(args):
    return 2
