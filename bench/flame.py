#!/usr/bin/env python3
"""bench/flame.py — `perf script` output in, a flame graph (SVG) out.

    perf script -i perf.data | bench/flame.py [--title T] > flame.svg

Folds each sample's call chain (root first) and draws one box per frame,
as wide as its share of the samples, callers below callees. A stand-in for
Brendan Gregg's stackcollapse-perf.pl + flamegraph.pl, which Debian lacks.
Hover a box (SVG <title>) for its name, samples and share.
"""
import html
import re
import sys
from collections import Counter

title = "flame graph"
if sys.argv[1:2] == ["--title"]:
    title = sys.argv[2]

stacks = Counter()
frames = []
have_header = False


def flush():
    global frames, have_header
    if have_header and frames:
        stacks[";".join(reversed(frames))] += 1
    frames = []
    have_header = False


for line in sys.stdin:
    line = line.rstrip("\n")
    if not line.strip():
        flush()
        continue
    if not line.startswith((" ", "\t")):
        flush()
        have_header = True
        continue
    m = re.match(r"\s+[0-9a-f]+\s+(.+?)(?:\s+\((.*)\))?$", line)
    if not m:
        continue
    sym = m.group(1)
    sym = re.sub(r"\+0x[0-9a-f]+$", "", sym)
    if sym == "[unknown]" and m.group(2):
        sym = "[" + m.group(2).rsplit("/", 1)[-1] + "]"
    frames.append(sym)
flush()

total = sum(stacks.values())
if not total:
    sys.exit("flame.py: no samples")

# tree: name -> [count, children]
root = [0, {}]
for stack, n in stacks.items():
    node = root
    node[0] += n
    for fr in stack.split(";"):
        node = node[1].setdefault(fr, [0, {}])
        node[0] += n

W, H, PAD, TOP = 1200, 16, 10, 40
boxes = []
depth_max = 0


def walk(node, name, x, depth):
    global depth_max
    width = node[0] / total * (W - 2 * PAD)
    if width < 0.3:
        return
    depth_max = max(depth_max, depth)
    boxes.append((name, x, depth, width, node[0]))
    cx = x
    for child, sub in sorted(node[1].items()):
        walk(sub, child, cx, depth + 1)
        cx += sub[0] / total * (W - 2 * PAD)


walk(root, "all", PAD, 0)
height = TOP + (depth_max + 1) * H + PAD


def color(name):
    h = sum(map(ord, name)) % 60
    if name.startswith("[") or "_[k]" in name or re.match(r"(__)?(x64|do_|sys_|entry_|tcp_|ip_|io_|__x64|skb|sock|ext4|blk|nvme|virtio)", name):
        return f"rgb({200 + h % 50},{120 + h},{40})"  # kernel-ish: orange
    return f"rgb({230},{90 + h * 2},{60 + h})"


out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{height}" font-family="Verdana" font-size="11">',
       f'<rect width="100%" height="100%" fill="#f8f8f0"/>',
       f'<text x="{W / 2}" y="20" text-anchor="middle" font-size="15">{html.escape(title)}</text>',
       f'<text x="{PAD}" y="34" font-size="10">{total} samples; width = share of samples; a frame sits on its caller</text>']
for name, x, depth, width, n in boxes:
    y = height - PAD - (depth + 1) * H
    label = html.escape(name)
    out.append(f'<g><title>{label} ({n} samples, {100 * n / total:.2f}%)</title>'
               f'<rect x="{x:.1f}" y="{y}" width="{width:.1f}" height="{H - 1}" fill="{color(name)}" rx="2"/>')
    chars = int(width / 7)
    if chars >= 3:
        t = name if len(name) <= chars else name[:chars - 2] + ".."
        out.append(f'<text x="{x + 3:.1f}" y="{y + H - 4}">{html.escape(t)}</text>')
    out.append("</g>")
out.append("</svg>")
sys.stdout.write("\n".join(out) + "\n")
