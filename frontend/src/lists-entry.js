// The EventLog's and ProjectOverview's ES module (anywidget): no editor, so no CodeMirror.
import { LIST_PANELS } from "./lists.js";
import { renderer } from "./render.js";

export default { render: renderer(LIST_PANELS) };
