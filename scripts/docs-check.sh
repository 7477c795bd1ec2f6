#!/usr/bin/env bash
# Builds the library's DocC catalog (Sources/LatentKit/LatentKit.docc) with warnings as errors, so a symbol link or
# article link that no longer resolves fails CI; then checks that every relative link in README.md and docs/*.md names
# a file that exists and, where it has a #fragment, a heading of that file.
set -euo pipefail
cd "$(dirname "$0")/.."
swift package --disable-sandbox generate-documentation --target LatentKit --warnings-as-errors
python3 - <<'PY'
import re, sys, pathlib

def anchors(path):
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    found = set()
    for line in path.read_text().splitlines():
        m = re.match(r"#{1,6}\s+(.*)", line)
        if m:
            text = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower())
            found.add(text.replace(" ", "-"))
    return found

bad = []
pages = [pathlib.Path("README.md"), *sorted(pathlib.Path("docs").glob("*.md"))]
for page in pages:
    for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
        if re.match(r"[a-z]+:", target):
            continue  # http:, https:, mailto:
        file, _, fragment = target.partition("#")
        dest = (page.parent / file).resolve() if file else page.resolve()
        if not dest.exists():
            bad.append(f"{page}: {target}: no such file")
        elif fragment and dest.suffix == ".md" and fragment not in anchors(dest):
            bad.append(f"{page}: {target}: no heading with that anchor")
for line in bad:
    print("docs-check:", line, file=sys.stderr)
if bad:
    sys.exit(1)
print(f"docs-check: the DocC catalog built without warnings; the links of {len(pages)} Markdown pages resolve")
PY
