"""Every bad `# taskrun:` directive of a task, not only the first: the planner stops at the
first one it meets, and a person fixing a file wants the whole list at once. Pure.
"""

from __future__ import annotations

from runner.bash.split import split_block
from runner.errors import InputError
from runner.models import RUN_SECTION_KINDS, CodeBlock, TaskDocument

__all__ = ["directive_problems"]

_BLANKED = "#"  # a comment with no text: no label, no directive


def directive_problems(doc: TaskDocument) -> list[InputError]:
    """The input errors of the blocks the planner splits, in line order, each once.

    The splitter stops at a block's first problem; each one found is blanked out (an empty
    comment keeps the block's shape) and the block split again, until it splits cleanly.
    """
    found: dict[tuple[int | None, str], InputError] = {}
    for block in _blocks_run(doc):
        fence_line = block.span.start + 1
        first = block.body_start + 1
        info = block.info
        body = list(block.body)
        lang = block.lang or ("bash" if block.indented else "")  # as the planner splits it
        for _attempt in range(len(body) + 2):  # each round blanks a line or the fence info
            try:
                split_block(body, info=info, lang=lang, path=doc.path, first_lineno=first)
                break
            except InputError as exc:
                found.setdefault((exc.line, exc.message), exc)
                index = (exc.line or 0) - first
                if exc.line == fence_line and info != block.lang:
                    info = block.lang
                elif 0 <= index < len(body) and body[index] != _BLANKED:
                    body[index] = _BLANKED
                else:
                    break  # not a line this loop can take out: reported once is enough
    return sorted(found.values(), key=lambda exc: exc.line or 0)


def _blocks_run(doc: TaskDocument) -> list[CodeBlock]:
    """The blocks the planner splits (plan/build.py): those of the sections that run (Test
    Commands, validation and pre-flight sections; Test Steps only where the file has no Test
    Commands block), runnable, and not sample output under an output label."""
    has_commands = any(b.section == "test-commands" and b.runnable for b in doc.code_blocks)
    return [
        block
        for block in doc.code_blocks
        if block.section in RUN_SECTION_KINDS
        and block.runnable
        and not (block.section == "test-steps" and has_commands)
        and not (not block.lang and block.placement is not None and block.placement.output_label)
    ]
