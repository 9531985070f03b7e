"""The text-layer child process: `python -I files/extract_text.py JOB_JSON` prints the text
of a PDF's first page (its title block, for the drawing register's bulk upload) as one JSON
line, under CPU-time and address-space limits it sets on itself before it reads the file.

Like files/render.py it imports nothing of the project and runs isolated (`-I`) with an
environment of PATH and LC_ALL only. It prints {"text"} with exit status 0, or {"reason",
"detail"} with status 2; a limit hit kills it by a signal.
"""

from __future__ import annotations

import json
import resource
import sys
from typing import Any

FAILED = 2


def limit_self(job: dict[str, Any]) -> None:
    cpu, memory = job["cpu_seconds"], job["memory_bytes"]
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))  # it writes no file


def first_page_text(job: dict[str, Any]) -> str:
    import pypdfium2

    document = pypdfium2.PdfDocument(job["src"])
    if len(document) == 0:
        return ""
    text = document[0].get_textpage().get_text_range()
    return str(text)[: job["max_chars"]]


def main(argv: list[str]) -> int:
    job = json.loads(argv[1])
    limit_self(job)
    try:
        text = first_page_text(job)
    except MemoryError:
        answer = {"reason": "memory_limit", "detail": "the extraction ran out of its memory"}
    except Exception as exc:  # a broken file: whatever PDFium raised
        answer = {"reason": "unreadable", "detail": f"{type(exc).__name__}: {exc}"[:500]}
    else:
        print(json.dumps({"text": text}))
        return 0
    print(json.dumps(answer))
    return FAILED


if __name__ == "__main__":
    sys.exit(main(sys.argv))
