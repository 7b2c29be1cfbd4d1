"""Offline-built Debian 12 images for the Docker repro suite.

Each image is a recipe in ``docker/images.json`` (data, not a script). ``build`` runs
debootstrap into a temporary directory, prunes the .debs and apt lists, and streams the root
file system into the engine with docker-py's import. The image is labelled with a hash of its
recipe, and a build is skipped while an image with that hash exists.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from repro import UsageError, debootstrap, dockerutil, report

if TYPE_CHECKING:
    from docker import DockerClient

RECIPES_FILE = Path(__file__).resolve().parent.parent / "docker" / "images.json"
LABEL_RECIPE = "org.sdkboot.repro.recipe"
LABEL_HASH = "org.sdkboot.repro.recipe-hash"
# Part of every hash: bump it when the build procedure changes, so old images count as stale.
BUILD_FORMAT = 1
LOCK_FILE = "sdkboot-repro-images.lock"


@dataclass(frozen=True)
class Recipe:
    name: str
    packages: tuple[str, ...]
    notes: str = ""
    suite: str = "bookworm"
    variant: str = "minbase"
    prune: tuple[str, ...] = ()
    repository: str = "sdkboot-repro"

    @property
    def ref(self) -> str:
        return f"{self.repository}:{self.name}"

    @property
    def digest(self) -> str:
        """What the image's content depends on; the notes are left out on purpose."""
        fields = [BUILD_FORMAT, self.suite, self.variant, list(self.packages), list(self.prune)]
        return hashlib.sha256(json.dumps(fields).encode()).hexdigest()

    def bootstrap(self) -> debootstrap.Bootstrap:
        return debootstrap.Bootstrap(self.suite, self.variant, self.packages)


def load_recipes(path: Path = RECIPES_FILE) -> dict[str, Recipe]:
    """Recipes by name, in file order."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read the image recipes in {path}: {exc}") from exc
    recipes = [_recipe(entry, data) for entry in data.get("images", [])]
    return {recipe.name: recipe for recipe in recipes}


def _recipe(entry: Mapping[str, Any], defaults: Mapping[str, Any]) -> Recipe:
    if not entry.get("name") or not entry.get("packages"):
        raise UsageError(f"an image recipe needs a name and packages: {entry!r}")
    merged = {**defaults, **entry}
    return Recipe(
        name=str(merged["name"]),
        packages=tuple(str(p) for p in merged["packages"]),
        notes=str(merged.get("notes", "")),
        suite=str(merged.get("suite", "bookworm")),
        variant=str(merged.get("variant", "minbase")),
        prune=tuple(str(p) for p in merged.get("prune", ())),
        repository=str(merged.get("repository", "sdkboot-repro")),
    )


def select(recipes: Mapping[str, Recipe], names: Sequence[str]) -> list[Recipe]:
    """The named recipes (all when ``names`` is empty); an unknown name is a usage error."""
    unknown = [name for name in names if name not in recipes]
    if unknown:
        raise UsageError(f"unknown image {', '.join(unknown)}; known: {', '.join(recipes)}")
    return [recipes[name] for name in names] if names else list(recipes.values())


@dataclass(frozen=True)
class ImageState:
    recipe: Recipe
    image_id: str | None
    current: bool
    size: int = 0

    @property
    def status(self) -> str:
        if self.image_id is None:
            return "missing"
        return "current" if self.current else "stale"


@dataclass(frozen=True)
class BuildResult:
    recipe: Recipe
    image_id: str
    built: bool
    seconds: float = 0.0
    freed: int = 0


def find_current(client: DockerClient, recipe: Recipe) -> Any | None:
    """An image carrying this recipe's hash, tagged or not."""
    wanted = [f"{LABEL_RECIPE}={recipe.name}", f"{LABEL_HASH}={recipe.digest}"]
    found = client.images.list(filters={"label": wanted})
    return found[0] if found else None


def image_state(client: DockerClient, recipe: Recipe) -> ImageState:
    import docker

    try:
        image = client.images.get(recipe.ref)
    except docker.errors.ImageNotFound:
        return ImageState(recipe, None, False)
    current = image.labels.get(LABEL_HASH) == recipe.digest
    return ImageState(recipe, image.id, current, int(image.attrs.get("Size", 0)))


def build(client: DockerClient, recipe: Recipe, progress: ProgressLine, force: bool = False) -> BuildResult:
    """Make ``recipe.ref`` current: re-tag an image with the same hash, else build one."""
    existing = None if force else find_current(client, recipe)
    if existing is not None:
        existing.tag(recipe.repository, recipe.name)
        return BuildResult(recipe, existing.id, built=False)
    debootstrap.check_tools()
    previous = image_state(client, recipe).image_id
    started = time.monotonic()
    target = debootstrap.make_rootfs_dir()
    try:
        freed = _bootstrap(recipe, target, progress)
        image_id = _import(client, recipe, target, progress)
    finally:
        debootstrap.remove_rootfs(target)
    _drop_superseded(client, previous, image_id)
    return BuildResult(recipe, image_id, True, time.monotonic() - started, freed)


def _drop_superseded(client: DockerClient, previous: str | None, current: str) -> None:
    """Remove the image the tag pointed at before, unless something still uses it."""
    import docker

    if previous is None or previous == current:
        return
    try:
        client.images.remove(previous)
    except docker.errors.APIError:
        pass  # still used by a container or another tag: leave it


def _bootstrap(recipe: Recipe, target: str, progress: ProgressLine) -> int:
    debootstrap.run(recipe.bootstrap(), target, progress.debootstrap_line)
    progress.show("pruning .debs and apt lists")
    return debootstrap.prune(target, recipe.prune)


def _import(client: DockerClient, recipe: Recipe, target: str, progress: ProgressLine) -> str:
    progress.show("importing into the engine")
    changes = [
        f"LABEL {LABEL_RECIPE}={recipe.name}",
        f"LABEL {LABEL_HASH}={recipe.digest}",
        f"LABEL {dockerutil.OWNER_LABEL}=1",
        'CMD ["/bin/bash"]',
    ]
    stream = debootstrap.tar_stream(target)
    client.api.import_image(
        src=stream,
        repository=recipe.repository,
        tag=recipe.name,
        changes=changes,
        stream_src=True,
    )
    return str(client.images.get(recipe.ref).id)


def ensure_images(
    client: DockerClient, recipes: Sequence[Recipe], progress: ProgressLine, force: bool = False
) -> list[BuildResult]:
    """Build what is missing or stale, one process at a time (pytest-xdist workers race here)."""
    with build_lock():
        return [build(client, recipe, progress.named(recipe.name), force) for recipe in recipes]


@contextlib.contextmanager
def build_lock() -> Iterator[None]:
    import fcntl  # POSIX only, and only needed where images are built

    path = os.path.join(os.environ.get("SDKBOOT_ROOTFS_TMP") or "/var/tmp", LOCK_FILE)
    with open(path, "a", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@dataclass
class ProgressLine:
    """A build's status on the one progress line (repro.report.Progress): the image's name,
    the time since it began and, while debootstrap runs, how far each of its stages got."""

    stream: TextIO = field(default_factory=lambda: sys.stderr)
    name: str = ""
    started: float = field(default_factory=time.monotonic)
    counts: dict[str, int] = field(default_factory=dict)
    shared: report.Progress | None = None  # another image's line: every status draws on one
    line: report.Progress = field(init=False)

    def __post_init__(self) -> None:
        self.line = self.shared or report.Progress(self.stream)

    def named(self, name: str) -> ProgressLine:
        return ProgressLine(self.stream, name, shared=self.line)

    def debootstrap_line(self, line: str) -> None:
        # "I: Retrieving libc6 2.36-9" -> count per stage, show the latest package.
        words = line.split()
        if len(words) >= 2 and words[0] == "I:":
            self.counts[words[1]] = self.counts.get(words[1], 0) + 1
            self.show(f"{words[1].lower()} {self.counts[words[1]]}: {' '.join(words[2:4])}")

    def show(self, text: str) -> None:
        self.line.update(f"{self.name}: {time.monotonic() - self.started:5.1f}s  {text}")

    def clear(self) -> None:
        self.line.done()


def state_rows(states: Sequence[ImageState]) -> list[list[str]]:
    header = ["IMAGE", "REF", "STATUS", "ID", "SIZE", "PACKAGES"]
    rows = [header]
    for state in states:
        short = (state.image_id or "-").replace("sha256:", "")[:12]
        size = dockerutil.human_bytes(state.size) if state.image_id else "-"
        packages = " ".join(state.recipe.packages)
        rows.append([state.recipe.name, state.recipe.ref, state.status, short, size, packages])
    return rows


def state_json(state: ImageState) -> dict[str, Any]:
    recipe = state.recipe
    return {
        "name": recipe.name,
        "ref": recipe.ref,
        "status": state.status,
        "image_id": state.image_id,
        "size": state.size,
        "recipe_hash": recipe.digest,
        "packages": list(recipe.packages),
        "notes": recipe.notes,
    }


def build_line(result: BuildResult) -> str:
    short = result.image_id.replace("sha256:", "")[:12]
    if not result.built:
        return f"{result.recipe.name}: current ({short}), build skipped"
    freed = dockerutil.human_bytes(result.freed)
    return f"{result.recipe.name}: built {short} in {result.seconds:.1f} s (pruned {freed})"


def cmd_build(args: argparse.Namespace) -> int:
    recipes = select(load_recipes(), args.names)
    client = dockerutil.connect()
    progress = ProgressLine()
    for recipe in recipes:
        # One at a time so each line is printed as soon as its image is ready.
        result = ensure_images(client, [recipe], progress, force=args.force)[0]
        progress.clear()
        print(build_line(result), flush=True)
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    recipes = select(load_recipes(), args.names)
    client = dockerutil.connect()
    states = [image_state(client, recipe) for recipe in recipes]
    if args.json:
        print(json.dumps([state_json(state) for state in states], indent=2))
    else:
        print(report.aligned_table(state_rows(states)))
    return 0


def register(subparsers: Any) -> None:
    """``images build [NAME...]`` and ``images list [NAME...]``."""
    parser = subparsers.add_parser("images", help="build and list the offline Debian 12 images")
    actions = parser.add_subparsers(dest="images_command", metavar="{build,list}")
    actions.required = True
    build_parser = actions.add_parser("build", help="debootstrap + import (skipped when current)")
    build_parser.add_argument("names", nargs="*", metavar="NAME", help="default: all recipes")
    build_parser.add_argument("--force", action="store_true", help="rebuild even when current")
    build_parser.set_defaults(handler=cmd_build)
    list_parser = actions.add_parser("list", help="show each image and whether it is current")
    list_parser.add_argument("names", nargs="*", metavar="NAME")
    list_parser.add_argument("--json", action="store_true", help="machine-readable output")
    list_parser.set_defaults(handler=cmd_list)
