import {
  type GraphView,
  imageLabel,
  LEGEND,
  STYLE,
  tagStays,
  type ViewImage,
} from './graph-view.js';

/** Text inside a Mermaid `"…"` label: quotes and markup-breaking characters as entities. */
function label(text: string): string {
  return text.replace(/[#"<>]/g, (c) => `#${c.charCodeAt(0)};`);
}

function classDef(name: string, style: (typeof STYLE)[keyof typeof STYLE]): string {
  const dash = style.dashed ? ',stroke-dasharray:5 3' : '';
  return `  classDef ${name} fill:${style.fill},stroke:${style.stroke},color:${style.text}${dash}`;
}

function imageClass(image: ViewImage): string {
  return image.fate === 'none'
    ? 'image'
    : image.fate === 'untag'
      ? 'untagged'
      : image.fate === 'delete'
        ? 'deleted'
        : 'kept';
}

/**
 * The graph as a Mermaid flowchart: images as boxes (kept green, kept-but-untagged amber,
 * deleted red and dashed), tags as rounded nodes pointing at their image (removed tags red and
 * dashed, marked deleted or untagged), image edges labelled `parent`, `child` or `referrer`.
 */
export function graphMermaid(view: GraphView): string {
  const out = ['flowchart LR'];
  out.push(classDef('kept', STYLE.keep), classDef('untagged', STYLE.untag));
  out.push(classDef('deleted', STYLE.delete), classDef('image', STYLE.none));
  out.push('  classDef tag fill:#ffffff,stroke:#546e7a,color:#263238');
  out.push('  classDef droppedTag fill:#ffffff,stroke:#c62828,color:#c62828,stroke-dasharray:3 3');
  const ids = new Map(view.images.map((image, i) => [image.id, `i${i}`]));
  let tagCount = 0;
  for (const image of view.images) {
    const node = ids.get(image.id) as string;
    out.push(
      `  ${node}["${label(imageLabel(image.id))}<br/>${label(image.kind)}"]:::${imageClass(image)}`,
    );
    for (const { tag, fate } of image.tags) {
      const tagNode = `t${tagCount++}`;
      const stays = tagStays(fate);
      const text = stays
        ? label(tag)
        : `${label(tag)} (${fate === 'delete' ? 'deleted' : 'untagged'})`;
      out.push(`  ${tagNode}(["${text}"]):::${stays ? 'tag' : 'droppedTag'}`);
      out.push(`  ${tagNode} -.-> ${node}`);
    }
  }
  for (const edge of view.edges) {
    out.push(`  ${ids.get(edge.from)} -->|${edge.kind}| ${ids.get(edge.to)}`);
  }
  if (view.images.some((image) => image.fate !== 'none')) {
    out.push('  subgraph legend [legend]');
    for (const [fate, name] of Object.entries(LEGEND)) {
      const cls = fate === 'keep' ? 'kept' : fate === 'untag' ? 'untagged' : 'deleted';
      out.push(`    legend_${cls}["${name}"]:::${cls}`);
    }
    out.push('  end');
  }
  return `${out.join('\n')}\n`;
}
