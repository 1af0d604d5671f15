// Bootstrap of the exported page: the same widget code as in Jupyter, fed from inlined state
// (<script type="application/json" id="ncut-state">) with no kernel and no network. A comparison
// page holds several panels ({panels, columns}); they link through js/links.js as in Jupyter.
import widget from "./widget.js";
import { createPageModel } from "./pagemodel.js";

const state = JSON.parse(document.getElementById("ncut-state").textContent);
const root = document.getElementById("ncut-root");
if (state.panels) {
  root.className = "ncut-panels";
  root.style.gridTemplateColumns = `repeat(${Math.max(1, state.columns || 1)}, minmax(0, 1fr))`;
  for (const panel of state.panels) {
    const el = document.createElement("div");
    root.append(el);
    const model = createPageModel(panel);
    widget.initialize({ model });
    widget.render({ model, el });
  }
} else {
  const model = createPageModel(state);
  widget.initialize({ model });
  widget.render({ model, el: root });
}
