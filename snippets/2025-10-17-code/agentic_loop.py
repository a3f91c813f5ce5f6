"""The essay's step-cached loop (2025-10-17-code/02) as ``agent.agent_loop``.

``main()`` runs the loop over a toy four-step task with a file store in a temporary folder, once
interrupted in step 3 and once more: the second run takes steps 1 and 2 from the cache.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from agent import FileStore, agent_loop, initial_state


class Interrupted(Exception):
    pass


def toy_step(log: list[int], interrupt_at: int | None = None):
    """An agentic step that only counts: step N appends N; it ends its turn after step 4."""

    def run_agentic_step(state: dict) -> dict:
        number = len(state["messages"])
        if number == interrupt_at:
            raise Interrupted(f"interrupted in step {number}")
        log.append(number)
        messages = state["messages"] + [{"role": "assistant", "content": f"step {number}"}]
        return {**state, "messages": messages, "done": number == 4}

    return run_agentic_step


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        store = FileStore(Path(folder) / "agent-cache")
        ran: list[int] = []
        try:
            agent_loop("toy", initial_state("count to four"), toy_step(ran, interrupt_at=3), store)
        except Interrupted as exc:
            print(f"first run: ran steps {ran}, then {exc}")
        ran.clear()
        state = agent_loop("toy", initial_state("count to four"), toy_step(ran), store,
                           report=lambda r: print(f"  step {r.step}: {'cache' if r.cached else 'ran'}"))
        print(f"second run: ran steps {ran}; done={state['done']}; "
              f"cache: {sorted(p.name for p in store.directory.iterdir())}")


if __name__ == "__main__":
    main()
