// Bootstrap of the exported page: the same widget code as in Jupyter, fed from inlined state
// (<script type="application/json" id="ncut-state">) with no kernel and no network.
import widget from "./widget.js";
import { createPageModel } from "./pagemodel.js";

const state = JSON.parse(document.getElementById("ncut-state").textContent);
const model = createPageModel(state);
widget.initialize({ model });
widget.render({ model, el: document.getElementById("ncut-root") });
