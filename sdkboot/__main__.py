# ``python -m sdkboot``. Kept to syntax every Python 3 parses: an interpreter too old for sdkboot
# gets one line and exit 2, and so does a copy run by its path instead of as a package.
import os
import sys

if sys.version_info < (3, 9):
    sys.stderr.write(
        "sdkboot: needs Python 3.9 or newer; %s is Python %s\n"
        % (sys.executable or "this interpreter", sys.version.split()[0])
    )
    sys.exit(2)

if not __package__:
    # Run by path: `python3 path/to/sdkboot` (a dir), or an archive of the dir's contents made by
    # `python3 -m zipapp sdkboot`. A real package dir can still be imported from its parent.
    _here = os.path.dirname(os.path.abspath(__file__))
    if os.path.basename(_here) != "sdkboot" or not os.path.isfile(os.path.join(_here, "entry.py")):
        sys.stderr.write(
            "sdkboot: %s has sdkboot's files at its top, not in a sdkboot package (as"
            " `python3 -m zipapp sdkboot` makes it); build the file to ship with"
            " `python3 -m sdkboot bundle -o sdkboot.pyz`, then run `python3 sdkboot.pyz COMMAND`\n" % _here
        )
        sys.exit(2)
    sys.path[0] = os.path.dirname(_here)

from sdkboot.entry import main

sys.exit(main())
