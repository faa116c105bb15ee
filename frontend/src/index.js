// The FunctionsPanel's ES module (anywidget): the panel and its CodeMirror editor.
import { FUNCTIONS_PANEL } from "./functions.js";
import { LIST_PANELS } from "./lists.js";
import { renderer } from "./render.js";

export default { render: renderer({ functions: FUNCTIONS_PANEL, ...LIST_PANELS }) };
