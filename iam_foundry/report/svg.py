"""The graph as inline SVG with a simple layered layout, left to right (no graphviz at run time).

Layers: a node's layer is its longest distance from a node nothing points to (cycles broken by
ignoring edges back to a node already placed); the ADMIN sink always sits in the last layer. Within a
layer nodes keep the graph's order. Edges are cubic curves from the right side of the source to the
left side of the target; a self-edge ("can modify its own role") is a loop above the node.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from html import escape

from iam_foundry.report.graph import Edge, Graph, Node

COLUMN, ROW, BOX_W, LINE_H, PAD, MARGIN = 400, 80, 200, 15, 10, 40
LABEL_CHARS = 30
FILL = {"user": "#e3f2fd", "role": "#e8f5e9", "instance-profile": "#f3e5f5", "service": "#fffde7", "pattern": "#fff3e0",
        "existing": "#eceff1", "admin": "#c62828"}
RED, GREY = "#c62828", "#607d8b"


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    w: float
    h: float
    lines: tuple[str, ...]


def layers(graph: Graph) -> dict[str, int]:
    incoming = {n.id: [e for e in graph.edges if e.target == n.id and e.source != n.id] for n in graph.nodes}
    layer: dict[str, int] = {}
    visiting: set[str] = set()

    def depth(node: str) -> int:
        if node in layer:
            return layer[node]
        if node in visiting:  # a cycle: the edge back is ignored
            return -1
        visiting.add(node)
        value = max((depth(e.source) + 1 for e in incoming[node]), default=0)
        visiting.discard(node)
        layer[node] = max(value, 0)
        return layer[node]

    for node in graph.nodes:
        depth(node.id)
    admin = [n.id for n in graph.nodes if n.kind == "admin"]
    last = max((v for k, v in layer.items() if k not in admin), default=0) + 1
    for node in admin:
        layer[node] = max(layer[node], last)
    return layer


def layout(graph: Graph) -> tuple[dict[str, Box], float, float]:
    placed = layers(graph)
    heights: dict[int, float] = {}
    boxes: dict[str, Box] = {}
    for node in graph.nodes:
        lines = tuple(textwrap.wrap(node.label, LABEL_CHARS) or [node.label])
        h = len(lines) * LINE_H + 2 * PAD
        column = placed[node.id]
        y = heights.get(column, MARGIN + 70)  # room above for self-loops and arcs over a column
        boxes[node.id] = Box(MARGIN + column * COLUMN, y, BOX_W, h, lines)
        heights[column] = y + h + ROW
    width = MARGIN * 2 + (max(placed.values(), default=0)) * COLUMN + BOX_W
    height = max(heights.values(), default=MARGIN) + MARGIN
    return boxes, width, height


def _node(node: Node, box: Box) -> str:
    colour = "#fff" if node.kind == "admin" else "#212121"
    shape = (f'<rect x="{box.x}" y="{box.y}" width="{box.w}" height="{box.h}" rx="{box.h / 2 if node.kind in ("user", "service") else 6}" '
             f'fill="{FILL[node.kind]}" stroke="{RED if node.kind == "admin" else GREY}" stroke-width="1.5"/>')
    text = "".join(f'<tspan x="{box.x + box.w / 2}" dy="{LINE_H if i else 0}">{escape(line)}</tspan>' for i, line in enumerate(box.lines))
    top = box.y + PAD + LINE_H - 3
    return (f'<g class="node {node.kind}" data-id="{escape(node.id)}"><title>{escape(node.label)}</title>{shape}'
            f'<text x="{box.x + box.w / 2}" y="{top}" text-anchor="middle" font-size="12" fill="{colour}">{text}</text></g>')


def _edge(edge: Edge, boxes: dict[str, Box], index: int, skip: int = 0) -> str:
    """One edge; `index` is its rank among edges leaving the same column, to stagger their labels;
    `skip` is the number of columns it jumps over: such an edge arcs above the nodes between."""
    a, b = boxes[edge.source], boxes[edge.target]
    colour, width = (RED, 3) if edge.escalation else (GREY, 1.5)
    marker = "arrow-red" if edge.escalation else "arrow"
    if edge.source == edge.target:
        x, y = a.x + a.w * 0.7, a.y
        d = f"M {x} {y} C {x - 10} {y - 38}, {x + 50} {y - 38}, {x + 30} {y}"
        lx, ly = x + 10, y - 32
    else:
        forward = b.x > a.x
        x1, y1 = (a.x + a.w, a.y + a.h / 2) if forward else (a.x + a.w / 2, a.y + a.h)
        x2, y2 = (b.x, b.y + b.h / 2) if forward else (b.x + b.w / 2, b.y)
        bend = max(abs(x2 - x1) / 2, 40)
        lift = (70 + 18 * (index % 4)) if skip else 0
        c1, c2 = ((x1 + bend, y1 - lift), (x2 - bend, y2 - lift)) if forward else ((x1 - 80, y1 + 40), (x2 - 80, y2 - 40))
        d = f"M {x1} {y1} C {c1[0]} {c1[1]}, {c2[0]} {c2[1]}, {x2} {y2}"
        # The label sits on the curve's midpoint, staggered among edges leaving the same column.
        lx = (x1 + 3 * c1[0] + 3 * c2[0] + x2) / 8
        ly = (y1 + 3 * c1[1] + 3 * c2[1] + y2) / 8 - 4 + (index % 4) * 12 - 12
    label = textwrap.shorten(edge.label, 60, placeholder="…")
    return (f'<g class="edge{" escalation" if edge.escalation else ""}" data-source="{escape(edge.source)}" data-target="{escape(edge.target)}">'
            f'<title>{escape(edge.label)}</title>'
            f'<path d="{d}" fill="none" stroke="{colour}" stroke-width="{width}" marker-end="url(#{marker})"/>'
            f'<text x="{lx}" y="{ly}" text-anchor="middle" font-size="10" fill="{RED if edge.escalation else "#37474f"}" '
            f'stroke="#fff" stroke-width="3" paint-order="stroke">{escape(label)}</text></g>')


def render_svg(graph: Graph) -> str:
    boxes, width, height = layout(graph)
    placed = layers(graph)
    defs = "".join(f'<marker id="{name}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
                   f'<path d="M 0 0 L 10 5 L 0 10 z" fill="{colour}"/></marker>' for name, colour in (("arrow", GREY), ("arrow-red", RED)))
    rank: dict[float, int] = {}
    parts = []
    for edge in graph.edges:
        column = boxes[edge.source].x
        rank[column] = rank.get(column, -1) + 1
        parts.append(_edge(edge, boxes, rank[column], max(placed[edge.target] - placed[edge.source] - 1, 0)))
    edges = "".join(parts)
    nodes = "".join(_node(n, boxes[n.id]) for n in graph.nodes)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" id="iam-graph" width="{width:.0f}" height="{height:.0f}" '
            f'viewBox="0 0 {width:.0f} {height:.0f}" style="max-width:100%;height:auto" font-family="sans-serif" role="img" aria-label="principals and escalation paths">'
            f'<defs>{defs}</defs><rect width="100%" height="100%" fill="#fafafa"/>{edges}{nodes}</svg>')
