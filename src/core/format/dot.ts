import { type GraphView, imageLabel, LEGEND, STYLE, tagStays } from './graph-view.js';

/** A DOT string literal. */
function quote(text: string): string {
  return `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

function styled(fate: keyof typeof STYLE): string {
  const s = STYLE[fate];
  return `fillcolor=${quote(s.fill)}, color=${quote(s.stroke)}, fontcolor=${quote(s.text)}, style=${quote(s.dashed ? 'rounded,filled,dashed' : 'rounded,filled')}`;
}

/**
 * The graph in Graphviz DOT: images as boxes filled by fate (kept green, kept-but-untagged amber,
 * deleted red and dashed), tags as notes pointing at their image (removed tags red), edges
 * labelled by kind. `dot -Tsvg` draws it.
 */
export function graphDot(view: GraphView): string {
  const out = ['digraph regprune {', '  rankdir=LR;'];
  out.push('  node [shape=box, fontname="Helvetica", fontsize=10];');
  out.push('  edge [fontname="Helvetica", fontsize=9];');
  const ids = new Map(view.images.map((image, i) => [image.id, `i${i}`]));
  let tagCount = 0;
  for (const image of view.images) {
    const node = ids.get(image.id) as string;
    out.push(
      `  ${node} [label=${quote(`${imageLabel(image.id)}\n${image.kind}`)}, tooltip=${quote(image.id)}, ${styled(image.fate)}];`,
    );
    for (const { tag, fate } of image.tags) {
      const tagNode = `t${tagCount++}`;
      const stays = tagStays(fate);
      const color = stays ? '#263238' : '#c62828';
      const text = stays ? tag : `${tag} (${fate === 'delete' ? 'deleted' : 'untagged'})`;
      out.push(
        `  ${tagNode} [shape=note, label=${quote(text)}, color=${quote(color)}, fontcolor=${quote(color)}${stays ? '' : ', style=dashed'}];`,
      );
      out.push(`  ${tagNode} -> ${node} [style=dotted, arrowhead=none];`);
    }
  }
  for (const edge of view.edges) {
    out.push(`  ${ids.get(edge.from)} -> ${ids.get(edge.to)} [label=${quote(edge.kind)}];`);
  }
  if (view.images.some((image) => image.fate !== 'none')) {
    out.push('  subgraph cluster_legend {', '    label="legend";');
    for (const [fate, name] of Object.entries(LEGEND)) {
      out.push(
        `    legend_${fate} [label=${quote(name)}, ${styled(fate as keyof typeof LEGEND)}];`,
      );
    }
    out.push('  }');
  }
  out.push('}');
  return `${out.join('\n')}\n`;
}
