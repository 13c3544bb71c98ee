"""The baseline of `npm run bench:prm`'s end-to-end figure: `lambda-grpo prm` written as a Python user would
write it, straightforwardly, with the C `json` module for reading and writing.

    python3 bench/prm_baseline.py rollouts.jsonl per-token.jsonl

Input: our format, one group per line ({"id", "step"?, "completions": [{"tokens", "reward"}, ...]}).
Output: the default fields of `lambda-grpo prm` (scale "group", eps 1e-4), one line per completion, with the
same values (floats compare equal; Python spells 1.0 where JavaScript spells 1, which the bench allows).
The prefix tree is built the way the paper defines it: members split by their token at each position, a
step runs while its members all go on and agree, an end step for members that stop where others go on,
children ordered by their smallest member, steps numbered in preorder.
"""

import json
import math
import sys

EPS = 1e-4


def build_tree(seqs):
    """Steps as dicts {start, length, members, parent}, in preorder; per completion its leaf step."""
    steps = []
    leaf = [-1] * len(seqs)

    def split(members, pos):
        groups = {}
        for m in members:
            groups.setdefault(seqs[m][pos], []).append(m)
        return sorted(groups.values(), key=lambda g: g[0])

    # Frames: (parent, start, members, is_end); a stack, so the walk is preorder without recursion.
    stack = [(-1, 0, g, False) for g in reversed(split([i for i, s in enumerate(seqs) if s], 0))]
    while stack:
        parent, start, members, is_end = stack.pop()
        sid = len(steps)
        stop = start
        if not is_end:
            stop = start + 1
            limit = min(len(seqs[m]) for m in members)
            while stop < limit and len({seqs[m][stop] for m in members}) == 1:
                stop += 1
        steps.append({"start": start, "length": stop - start, "members": members, "parent": parent})
        if is_end:
            for m in members:
                leaf[m] = sid
            continue
        ended = [m for m in members if len(seqs[m]) == stop]
        going = [m for m in members if len(seqs[m]) > stop]
        if not going:
            for m in members:
                leaf[m] = sid
            continue
        children = [(sid, stop, g, False) for g in split(going, stop)]
        if ended:
            children.append((sid, stop, ended, True))
            children.sort(key=lambda c: c[2][0])
        stack.extend(reversed(children))
    return steps, leaf


def mean_std(r):
    # Summed left to right like the TypeScript (Python 3.12's sum() of floats is compensated).
    n = len(r)
    total = 0.0
    for x in r:
        total += x
    mean = total / n if n else 0.0
    ss = 0.0
    for x in r:
        ss += (x - mean) * (x - mean)
    return mean, (math.sqrt(ss / (n - 1)) if n > 1 else 0.0)


def main(src, dst):
    with open(src) as f, open(dst, "w") as out:
        for line in f:
            if not line.strip():
                continue
            g = json.loads(line)
            seqs = [c["tokens"] for c in g["completions"]]
            rewards = [float(c["reward"]) for c in g["completions"]]
            steps, leaf = build_tree(seqs)
            mean, std = mean_std(rewards)
            no_signal = len(rewards) < 2 or all(x == rewards[0] for x in rewards)
            denom = std + EPS

            def scale(x):
                return 0.0 if no_signal else (x - mean) / denom

            step_r = []
            for s in steps:
                total = 0.0
                for m in s["members"]:
                    total += rewards[m]
                step_r.append(total / len(s["members"]))
            step_a = [scale(x) for x in step_r]
            for i, y in enumerate(seqs):
                path = []
                s = leaf[i]
                while s >= 0:
                    path.append(s)
                    s = steps[s]["parent"]
                path.reverse()
                lam, pr, pa, node = [], [], [], []
                for s in path:
                    k = steps[s]["length"]
                    lam += [len(steps[s]["members"])] * k
                    pr += [step_r[s]] * k
                    pa += [step_a[s]] * k
                    node += [s] * k
                row = {"group": g.get("id")}
                if "step" in g:
                    row["step"] = g["step"]
                row.update(index=i, reward=rewards[i], advantage=scale(rewards[i]), **{
                    "lambda": lam, "processReward": pr, "processAdvantage": pa, "node": node})
                out.write(json.dumps(row, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
