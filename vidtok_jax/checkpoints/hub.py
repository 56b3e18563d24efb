"""Models named by their Hugging Face Hub id (``EPFL-VILAB/videoflextok_d18_d28``, ``microsoft/VidTok``).

Resolution goes through ``huggingface_hub`` (the optional ``hub`` extra): its local cache first, then a
download unless ``HF_HUB_OFFLINE=1``; where neither gives the file, the error names the command that
fetches it. A name is read as a Hub id only when no file or folder of that name exists.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from vidtok_jax.errors import CheckpointError

HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")
VIDTOK_REPO = "microsoft/VidTok"


def is_hub_id(name: str | os.PathLike) -> bool:
    """``owner/name`` that is not a local path."""
    text = os.fspath(name)
    return bool(HUB_ID.match(text)) and not Path(text).exists()


def _hub():
    try:
        import huggingface_hub
    except ImportError:
        raise CheckpointError("loading a model by its Hub id needs huggingface_hub: pip install 'vidtok-jax[hub]' "
                              "(or download the files and pass their path)") from None
    return huggingface_hub


def _fetch(repo_id: str, filename: str | None) -> Path:
    hub = _hub()
    command = f"hf download {repo_id}" + (f" {filename}" if filename else "")
    offline = os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")
    attempts = (True,) if offline else (True, False)
    failure = None
    for local_only in attempts:
        try:
            if filename is None:
                return Path(hub.snapshot_download(repo_id, local_files_only=local_only))
            return Path(hub.hf_hub_download(repo_id, filename, local_files_only=local_only))
        except Exception as error:  # huggingface_hub's errors (not found, offline, network) are not one class
            failure = error
    where = "not in the local Hugging Face cache" + (" and HF_HUB_OFFLINE is set" if offline else " and could not be downloaded")
    raise CheckpointError(f"{repo_id}{'/' + filename if filename else ''}: {where} ({type(failure).__name__}); "
                          f"fetch it with `{command}` on a machine with internet access, or pass the file's path")


def hub_videoflextok_folder(repo_id: str) -> Path:
    """The local folder (``config.json`` + ``model.safetensors``) of a VideoFlexTok release on the Hub."""
    return _fetch(repo_id, None)


def hub_vidtok_checkpoint(config_name: str, repo_id: str = VIDTOK_REPO) -> Path:
    """The local path of an official VidTok checkpoint (``checkpoints/<config>.ckpt`` in ``microsoft/VidTok``)."""
    return _fetch(repo_id, f"checkpoints/{config_name}.ckpt")
