"""Markdown at the cap (100,000 characters): the time to render each of the worst inputs we
know (tests/incidents/test_markdown.py's WORST: nested brackets, emphasis runs, link references,
huge lists and tables…), the best of five runs each, through the renderer the product uses.

    .venv/bin/python -m bench.markdown

Target: every input under 100 ms. Prints the slowest inputs and the figure to put in README.
"""

import os
import sys
import time

TARGET_MS = 100.0


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from incidents.markdown import render_markdown
    from tests.incidents.test_markdown import WORST

    timings = {}
    for name, source in WORST.items():
        best = float("inf")
        for _ in range(5):
            start = time.perf_counter()
            render_markdown(source)
            best = min(best, time.perf_counter() - start)
        timings[name] = best * 1000
    slowest = sorted(timings.items(), key=lambda item: -item[1])
    for name, ms in slowest[:5]:
        print(f"[bench] markdown at the cap, {name}: {ms:.1f} ms", file=sys.stderr)
    worst_name, worst_ms = slowest[0]
    print(
        f"markdown: the slowest of {len(timings)} adversarial inputs at 100,000 characters "
        f"({worst_name}) renders in {worst_ms:.1f} ms (target < {TARGET_MS:.0f} ms)"
    )
    return 0 if worst_ms < TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
