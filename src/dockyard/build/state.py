"""Where a build stage stands: its current image, run config, and declared ARGs; and how a step
is committed as the next image.

Every step ends as an image (as in Docker's classic builder): the parent's layers plus the
step's own layer if it changed files, its config with the step's run config, one more history
entry, and `container_config`, the record of the step that the cache matches on.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from dockyard.engine.images import ImageService
from dockyard.engine.images_model import ImageRecord, LayerBlob
from dockyard.oci.image_spec import HistoryItem, ImageConfig, RunConfig, rfc3339_now

__all__ = ["StageState", "commit_step", "from_image", "from_scratch", "NOP"]

NOP = "#(nop) "   # marks a step that ran nothing, in created_by and the cache key (as Docker)


@dataclass
class StageState:
    name: str
    image_id: str                       # "" for scratch before the first commit
    config: ImageConfig                 # the image the stage stands at
    run: RunConfig                      # the run config the next commit records
    layers: list[LayerBlob] = field(default_factory=list)
    args: dict[str, str | None] = field(default_factory=dict)   # ARGs declared in this stage
    cmd_set: bool = False               # CMD given in this stage (ENTRYPOINT then keeps it)


def from_scratch(name: str, os_name: str, arch: str) -> StageState:
    return StageState(name, "", ImageConfig(architecture=arch, os=os_name), RunConfig())


def from_image(name: str, images: ImageService, record: ImageRecord) -> StageState:
    config = ImageConfig.from_json(record.config)
    return StageState(name, record.id, config, config.config, images.image_layers(record.id))


def probe_config(run: RunConfig, cmd: list[str], *, clear_entrypoint: bool = False) -> dict[str, Any]:
    """The step's `container_config`: the run config with `Cmd` saying what the step did."""
    doc = run.to_json()
    doc["Cmd"] = cmd
    if clear_entrypoint:
        doc.pop("Entrypoint", None)
    return doc


def commit_step(images: ImageService, state: StageState, run: RunConfig, container_config: dict[str, Any],
                layer: LayerBlob | None, *, author: str | None = None) -> ImageRecord:
    """Store the next image of the stage and move the stage onto it."""
    now = rfc3339_now()
    created_by = " ".join(container_config.get("Cmd") or [])
    history = (*state.config.history, HistoryItem(created=now, created_by=created_by,
                                                   empty_layer=layer is None))
    diff_ids = state.config.diff_ids + ((layer.diff_id,) if layer else ())
    extra = {**state.config.extra, "container_config": container_config}
    config = replace(state.config, config=run, history=history, diff_ids=diff_ids, created=now, extra=extra,
                     author=state.config.author if author is None else author)
    layers = [*state.layers, layer] if layer else list(state.layers)
    record = images.store_image(config, layers, [], parent=state.image_id)
    state.image_id, state.config, state.run = record.id, config, run
    # stored now: the staged copy has been moved into the snapshot store
    state.layers = [replace(blob, staged=None) for blob in layers]
    return record


def load_cached(images: ImageService, state: StageState, image_id: str) -> None:
    """Move the stage onto a cached step's image."""
    record = images.resolve(image_id)
    state.image_id, state.config = record.id, ImageConfig.from_json(record.config)
    state.run = state.config.config
    state.layers = images.image_layers(record.id)
