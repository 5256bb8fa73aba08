"""A stand-in for an external simulator, run once per point by ``command`` studies.

Usage: ``python3 simulator.py INPUTS.json OUTPUTS.txt``. Reads ``{name: value}`` from the
input file and writes one number, the tip displacement of a cantilever beam, to the output
file (as an expensive finite-element code would write its result).
"""

import json
import math
import sys


def main(inputs: str, outputs: str) -> None:
    with open(inputs) as fh:
        v = json.load(fh)
    d = (4.0 * v["L"] ** 3 / (v["E"] * 1e9 * v["w"] * v["t"])
         * math.sqrt((v["F_X"] / v["w"] ** 2) ** 2 + (v["F_Y"] / v["t"] ** 2) ** 2))
    with open(outputs, "w") as fh:
        fh.write(f"{d!r}\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
