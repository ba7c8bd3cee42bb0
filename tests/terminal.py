"""Commands run as a person runs them: in a real terminal (tmux, 80 columns) whose screen is read
back, or with stderr on a pseudo-terminal and stdout on a pipe."""

from __future__ import annotations

import os
import pty
import select
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

TOOLKIT = str(Path(sys.executable).with_name("toolkit"))
BEGIN, DONE = "__command-began__", "__command-exited__"


def tmux_available() -> bool:
    return shutil.which("tmux") is not None


def on_screen(args: list[str], folder: Path, width: int = 80, timeout: float = 120) -> str:
    """What a terminal `width` columns wide shows after `toolkit ARGS` ran in it (its scrollback
    too), wrapped lines joined as one copies them; then the exit code on a last line."""
    socket = folder / "tmux.sock"
    # the markers typed with an empty '' inside, so that only their output matches, not the typed line
    command = (
        f"cd {shlex.quote(str(folder))}; echo {BEGIN[:5]}''{BEGIN[5:]}; "
        f"{shlex.quote(TOOLKIT)} {shlex.join(args)}; echo {DONE[:5]}''{DONE[5:]} $?"
    )
    tmux = ["tmux", "-S", str(socket)]
    subprocess.run(
        [*tmux, "new-session", "-d", "-x", str(width), "-y", "50", "bash", "--norc", "--noprofile"],
        check=True,
        env={**os.environ, "TERM": "xterm-256color", "COLUMNS": str(width)},
    )
    try:
        subprocess.run([*tmux, "set-option", "-g", "history-limit", "20000"], check=True)
        subprocess.run([*tmux, "send-keys", command, "Enter"], check=True)
        deadline = time.monotonic() + timeout
        while True:
            screen = subprocess.run(
                [*tmux, "capture-pane", "-p", "-J", "-S", "-"], check=True, capture_output=True, text=True
            ).stdout
            if f"\n{DONE} " in screen:
                shown, _, code = screen.split(f"\n{BEGIN}\n", 1)[1].partition(f"{DONE} ")
                return shown + "exit " + code.split()[0]
            if time.monotonic() > deadline:
                raise TimeoutError(f"toolkit {' '.join(args)} did not finish in {timeout} s:\n{screen}")
            time.sleep(0.2)
    finally:
        subprocess.run([*tmux, "kill-server"], check=False)


def with_stderr_on_terminal(args: list[str], folder: Path, timeout: float = 300) -> tuple[str, str, int]:
    """(stdout, what the terminal on stderr received, exit code) of `toolkit ARGS`."""
    main, other = pty.openpty()
    process = subprocess.Popen(
        [TOOLKIT, *args],
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=other,
        env={**os.environ, "TERM": "xterm-256color", "COLUMNS": "80"},
    )
    os.close(other)
    received = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([main], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(main, 65536)
            except OSError:  # the other end closed: the command exited
                break
            if not chunk:
                break
            received += chunk
        elif process.poll() is not None:
            break
    stdout = process.communicate(timeout=timeout)[0]
    os.close(main)
    return stdout.decode(), received.decode(errors="replace"), process.returncode
