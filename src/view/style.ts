/** The viewer page's stylesheet (served as /assets/viewer.css, inlined in the report). */
export const VIEWER_CSS = `
:root {
  --ink: #1d2329; --muted: #5f6b76; --rule: #d9dee3; --bg: #ffffff; --panel: #f7f8fa;
  --pos: #2166ac; --neg: #b2182b; --accent: #2c5d8a;
  --mono: ui-monospace, "SFMono-Regular", "DejaVu Sans Mono", Menlo, Consolas, monospace;
  --sans: system-ui, -apple-system, "Segoe UI", "DejaVu Sans", Roboto, sans-serif;
}
* { box-sizing: border-box; }
html, body { margin: 0; background: var(--bg); color: var(--ink); font: 14px/1.45 var(--sans); }
#app { max-width: 1480px; margin: 0 auto; padding: 18px 24px 48px; }
header.top { display: flex; align-items: baseline; gap: 14px; flex-wrap: wrap; border-bottom: 1px solid var(--rule); padding-bottom: 10px; }
header.top h1 { font-size: 20px; margin: 0; font-weight: 650; letter-spacing: .01em; }
header.top .run { font-family: var(--mono); font-size: 14px; color: var(--accent); }
.badge { display: inline-block; font-size: 12px; color: var(--muted); border: 1px solid var(--rule); border-radius: 10px; padding: 0 8px; margin-right: 4px; }
.note { color: var(--muted); font-size: 12.5px; margin: 4px 0 10px; max-width: 980px; }
section { margin-top: 22px; }
section > h2 { font-size: 16px; margin: 0 0 2px; font-weight: 650; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(330px, 1fr)); gap: 12px 18px; }
.chart { background: var(--bg); border: 1px solid var(--rule); border-radius: 6px; padding: 6px 8px 2px; }
.chart h3 { font-size: 12.5px; font-weight: 600; margin: 0 0 2px; color: var(--ink); }
.chart h3 .last { float: right; font-weight: 400; color: var(--muted); font-family: var(--mono); }
.chart .u-over { cursor: pointer; }
.controls { display: flex; flex-wrap: wrap; align-items: center; gap: 8px 16px; background: var(--panel); border: 1px solid var(--rule); border-radius: 6px; padding: 8px 12px; }
.controls label { font-size: 12.5px; color: var(--muted); display: flex; align-items: center; gap: 6px; }
.controls input[type=range] { width: 260px; }
.controls select, .controls input[type=search] { font: 13px var(--mono); padding: 2px 4px; }
.controls input[type=search] { width: 170px; }
.controls button { font: 13px var(--sans); padding: 1px 8px; cursor: pointer; }
.controls .stepval { font: 13px var(--mono); min-width: 4.5em; color: var(--ink); }
.summary { margin: 8px 2px 6px; font-size: 13px; color: var(--muted); }
.summary b { color: var(--ink); font-weight: 600; font-family: var(--mono); }
.summary .sep { margin: 0 7px; color: var(--rule); }
.tree-wrap { border: 1px solid var(--rule); border-radius: 6px; overflow: hidden; background: #fff; cursor: grab; touch-action: none; }
.tree-wrap:active { cursor: grabbing; }
svg.tree { display: block; font-family: var(--sans); }
svg.tree .step .len { font: 10.5px var(--mono); fill: var(--muted); }
svg.tree .step.collapsed > rect { stroke-dasharray: 7 2 1 2; }
svg.tree .step.pinned > rect { stroke: #111; stroke-width: 2.6; }
svg.tree .step { cursor: pointer; }
.controls .zoom { display: inline-flex; align-items: center; gap: 3px; font-size: 12.5px; color: var(--muted); }
.controls .zoom button { min-width: 28px; }
.step-detail { border: 1px solid var(--rule); border-left: 4px solid var(--accent); border-radius: 6px; margin: 8px 0; padding: 6px 10px; background: var(--panel); }
.step-detail .head { font-size: 12.5px; color: var(--muted); display: flex; gap: 8px; align-items: baseline; }
.step-detail .head b { color: var(--ink); }
.step-detail .head button { margin-left: auto; font-size: 14px; line-height: 1; padding: 0 6px; cursor: pointer; }
.step-detail pre.full { font: 13px/1.5 var(--mono); white-space: pre-wrap; word-break: break-word; max-height: 40vh; overflow: auto; margin: 6px 0 2px; }
.curves-head { display: flex; justify-content: space-between; align-items: center; gap: 16px; flex-wrap: wrap; }
.curves-head label { font-size: 12.5px; color: var(--muted); display: flex; align-items: center; gap: 6px; }
.curves-head input[type=range] { width: 160px; }
.constants { font-family: var(--mono); font-size: 12px; }
#sweep .charts, #curves .charts { margin-top: 10px; }
.key { display: inline-flex; align-items: center; gap: 5px; font-size: 12.5px; }
.key .swatch { display: inline-block; width: 18px; height: 3px; }
svg.tree .link { fill: none; stroke: #9aa5b1; stroke-opacity: .75; }
svg.tree .step > rect { stroke: #39424b; stroke-width: .8; }
svg.tree .step .tok { font: 600 13px var(--mono); }
svg.tree .step .stats { font: 11px var(--sans); }
svg.tree .step.end > rect { stroke-dasharray: 3 2; }
svg.tree .prompt rect { fill: #eef0f3; stroke: #8a949e; }
svg.tree .prompt text { font: italic 12px var(--sans); fill: #4b5560; }
svg.tree .leaftag { font: 11.5px var(--mono); fill: #1d2329; }
svg.tree .leaftag rect { fill: #fff; stroke: #b9c1c9; }
svg.tree .step.hl > rect { stroke: #111; stroke-width: 2.2; }
svg.tree .step.dim { opacity: .35; }
.legend { display: flex; align-items: center; gap: 10px; font-size: 12px; color: var(--muted); margin: 6px 2px; flex-wrap: wrap; }
.legend .bar { width: 220px; height: 12px; border: 1px solid var(--rule); border-radius: 2px; }
.legend .ticks { display: flex; justify-content: space-between; width: 220px; font-family: var(--mono); font-size: 11px; }
.legend .scale { display: inline-flex; flex-direction: column; }
.strips-head { display: flex; align-items: center; gap: 18px; flex-wrap: wrap; margin: 4px 0 6px; font-size: 12.5px; color: var(--muted); }
.strips { border: 1px solid var(--rule); border-radius: 6px; padding: 8px 10px; max-height: 70vh; overflow: auto; }
.strip-row { display: grid; grid-template-columns: 200px 58px 1fr; align-items: center; column-gap: 8px; padding: 3px 0; border-bottom: 1px solid #f0f2f4; }
.strip-row:last-child { border-bottom: 0; }
.strip-row .who { grid-row: span 2; font: 12px var(--mono); color: var(--ink); }
.strip-row .who .sub { display: block; color: var(--muted); font-size: 11px; }
.strip-row .kind { font-size: 11px; line-height: 18px; color: var(--muted); text-align: right; }
.strip-row canvas { display: block; height: 16px; margin: 1px 0; }
.strip-row.hl { background: #fff7d6; }
.strip-row.dim { opacity: .35; }
#tooltip { position: fixed; pointer-events: none; background: rgba(255,255,255,.97); border: 1px solid #9aa5b1; border-radius: 4px; padding: 6px 8px; font-size: 12px; max-width: 420px; box-shadow: 0 2px 8px rgba(0,0,0,.12); z-index: 10; display: none; white-space: pre-wrap; }
#tooltip .tt-tok { font-family: var(--mono); background: #f1f3f5; padding: 0 3px; }
.error { color: var(--neg); font-weight: 600; margin: 8px 0; }
.loading { color: var(--muted); font-style: italic; }
footer { margin-top: 28px; font-size: 12px; color: var(--muted); border-top: 1px solid var(--rule); padding-top: 8px; }
`;
