#!/usr/bin/env python3
"""The probability that an adversary holding a fraction alpha of verifier stake decides a verdict of the
drawn-committee protocol (contracts/src/DistributedRender.sol; model and rules in docs/security.md).

Model: every seat is drawn independently and is the adversary's with probability alpha (draws are with
replacement, weighted by tickets). Honest members reveal the true verdict; adversarial members reveal the false
one. Level a has (q0 + 1) * 2**a - 1 seats (a = 0 .. MAX_LEVEL). Below the last level a draw decides (its verdict
can be appealed) only when it is unanimous; a split draw escalates to the next level at once. The last level
decides by majority (its seat count is odd). Whoever loses a decided verdict may appeal it while levels remain.

    python3 scripts/committee-odds.py                      # the markdown table
    python3 scripts/committee-odds.py --check docs/security.md   # fails if the document's table differs

Uses only the standard library; exact rational arithmetic, printed in scientific notation.
"""
from fractions import Fraction
from math import comb
import sys

MAX_LEVEL = 3
ALPHAS = [("0.01", Fraction(1, 100)), ("0.1", Fraction(1, 10)), ("0.2", Fraction(1, 5)), ("1/3", Fraction(1, 3))]
BEGIN = "<!-- committee-odds:begin -->"
END = "<!-- committee-odds:end -->"


def seats(q0: int, level: int) -> int:
    return ((q0 + 1) << level) - 1


def majority(n: int, alpha: Fraction) -> Fraction:
    """P(the adversary holds a strict majority of n seats)."""
    return sum(comb(n, k) * alpha**k * (1 - alpha) ** (n - k) for k in range(n // 2 + 1, n + 1))


def prevails(q0: int, alpha: Fraction, level: int, honest_appeals: int) -> Fraction:
    """P(the adversary's verdict is the final one), starting with a draw at `level`, when the honest side may
    appeal `honest_appeals` more times and the adversary appeals every honest verdict while levels remain."""
    n = seats(q0, level)
    if level == MAX_LEVEL:
        return majority(n, alpha)
    adv, hon = alpha**n, (1 - alpha) ** n
    split = 1 - adv - hon
    nxt_same = prevails(q0, alpha, level + 1, honest_appeals)
    on_adv = prevails(q0, alpha, level + 1, honest_appeals - 1) if honest_appeals > 0 else Fraction(1)
    return adv * on_adv + hon * nxt_same + split * nxt_same


def unappealed(q0: int, alpha: Fraction, level: int = 0) -> Fraction:
    """P(the adversary's verdict is the outcome when nobody appeals; split draws still escalate)."""
    n = seats(q0, level)
    if level == MAX_LEVEL:
        return majority(n, alpha)
    split = 1 - alpha**n - (1 - alpha) ** n
    return alpha**n + split * unappealed(q0, alpha, level + 1)


def fmt(x: Fraction) -> str:
    if x == 0:
        return "0"
    return f"{float(x):.2e}"


def table(q0: int) -> str:
    lv = [seats(q0, a) for a in range(MAX_LEVEL + 1)]
    head = (
        f"| α | decides the first round ({lv[0]} seats) | decides the first appeal round ({lv[1]} seats) "
        f"| decides the second appeal round ({lv[2]} seats) | majority of the last level ({lv[3]} seats) "
        "| outcome, nobody appeals | outcome, one honest appeal | outcome, two honest appeals |"
    )
    rows = [head, "|" + "---|" * 8]
    for name, a in ALPHAS:
        rows.append(
            f"| {name} | {fmt(a ** lv[0])} | {fmt(a ** lv[1])} | {fmt(a ** lv[2])} | {fmt(majority(lv[3], a))} "
            f"| {fmt(unappealed(q0, a))} | {fmt(prevails(q0, a, 0, 1))} | {fmt(prevails(q0, a, 0, 2))} |"
        )
    return "\n".join(rows)


def document() -> str:
    parts = []
    for q0 in (3, 4):
        parts.append(f"First committee of {q0} (`quorum = {q0}`{', the CLI default' if q0 == 3 else ''}):\n")
        parts.append(table(q0) + "\n")
    return "\n".join(parts)


def main() -> int:
    text = document()
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        doc = open(sys.argv[2], encoding="utf-8").read()
        try:
            inside = doc.split(BEGIN, 1)[1].split(END, 1)[0]
        except IndexError:
            print(f"committee-odds: {sys.argv[2]} has no {BEGIN} ... {END} block", file=sys.stderr)
            return 2
        if inside.strip() != text.strip():
            print(f"committee-odds: the table in {sys.argv[2]} differs from the script's; regenerate it with\n"
                  f"  python3 scripts/committee-odds.py", file=sys.stderr)
            return 1
        print("committee-odds: the table matches")
        return 0
    if len(sys.argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    print(text)
    # The targets the protocol is built for (issue 11), checked on every run.
    a = Fraction(1, 10)
    assert a ** seats(3, 0) <= Fraction(1, 1000), "first round above 1e-3 at alpha 0.1"
    assert prevails(3, a, 0, 1) <= Fraction(1, 100_000), "one honest appeal above 1e-5 at alpha 0.1"
    return 0


if __name__ == "__main__":
    sys.exit(main())
