"""Runs every peer in one Python process, so torch is imported and CUDA started once rather than
once a peer (the device check's budget is minutes). Rows go to stdout as each peer prints them;
a peer that fails is reported on stderr and the others still run; the exit status is 1 if any
failed. Peers: every bench/peers/*.py but this file, the _-prefixed helpers and the STANDALONE trainers. Sharing the process,
a peer that changes torch's process-wide settings (conv.py: cudnn.benchmark, TF32, the CPU thread
count) puts them back before it returns, so the peers after it measure as they would alone."""
import os
import sys

# This folder's file names shadow standard modules (copy.py): it goes last on the path, so the
# standard library wins and the peers still find _common.
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != HERE] + [HERE]

import runpy  # noqa: E402
import traceback  # noqa: E402


# Peers that train for minutes and run on their own (the device check gives them their own step).
STANDALONE = {"mnist_train.py", "tips.py"}


def main():
    failed = []
    for name in sorted(os.listdir(HERE)):
        if not name.endswith(".py") or name.startswith("_") or name == "all.py" or name in STANDALONE:
            continue
        try:
            runpy.run_path(os.path.join(HERE, name), run_name="__main__")
        except SystemExit as e:
            if e.code not in (None, 0):
                failed.append(name)
        except Exception:
            traceback.print_exc()
            failed.append(name)
        sys.stdout.flush()
    if failed:
        print(f"peers that failed: {', '.join(failed)}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
