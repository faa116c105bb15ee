// The editor's look: JupyterLab's own CodeMirror colours (its --jp-mirror-editor-* and
// --jp-editor-* variables, set by the light and the dark theme alike), with fallbacks for a
// front end without them; light or dark follows the page, live.
import { HighlightStyle, syntaxHighlighting } from "@codemirror/language";
import { Compartment } from "@codemirror/state";
import { EditorView } from "@codemirror/view";
import { classHighlighter, tags as t } from "@lezer/highlight";

/** Is the notebook in a dark theme? JupyterLab and Notebook 7 say so on <body>. */
export function pageIsDark() {
  const flag = document.body?.dataset?.jpThemeLight;
  if (flag === "false") return true;
  if (flag === "true") return false;
  if (document.body?.classList.contains("vscode-dark")) return true;
  return window.matchMedia?.("(prefers-color-scheme: dark)").matches ?? false;
}

// [variable, light fallback, dark fallback]: JupyterLab's light and dark values.
const COLOURS = {
  keyword: ["keyword", "#008000", "#4caf50"],
  atom: ["atom", "#88f", "#64b5f6"],
  number: ["number", "#080", "#66bb6a"],
  def: ["def", "#00f", "#1e88e5"],
  builtin: ["builtin", "#008000", "#43a047"],
  variable2: ["variable-2", "#05a", "#42a5f5"],
  punctuation: ["punctuation", "#05a", "#42a5f5"],
  property: ["property", "#05a", "#42a5f5"],
  operator: ["operator", "#a2f", "#a2f"],
  comment: ["comment", "#408080", "#408080"],
  string: ["string", "#ba2121", "#ff7070"],
  string2: ["string-2", "#708", "#ba68c8"],
  meta: ["meta", "#a2f", "#a2f"],
  bracket: ["bracket", "#997", "#997"],
};

function colour(name, dark) {
  const [variable, light, darkValue] = COLOURS[name];
  return `var(--jp-mirror-editor-${variable}-color, ${dark ? darkValue : light})`;
}

function highlightStyle(dark) {
  const c = (name) => colour(name, dark);
  return HighlightStyle.define([
    { tag: t.meta, color: c("meta") },
    { tag: t.keyword, color: c("keyword"), fontWeight: "bold" },
    { tag: [t.bool, t.null], color: c("keyword"), fontWeight: "bold" },
    { tag: t.atom, color: c("atom") },
    { tag: t.number, color: c("number") },
    { tag: [t.definition(t.name), t.function(t.definition(t.variableName))], color: c("def") },
    { tag: t.standard(t.variableName), color: c("builtin") },
    { tag: [t.special(t.variableName), t.self], color: c("variable2") },
    { tag: t.punctuation, color: c("punctuation") },
    { tag: t.propertyName, color: c("property") },
    { tag: t.operator, color: c("operator"), fontWeight: "bold" },
    { tag: t.comment, color: c("comment"), fontStyle: "italic" },
    { tag: t.string, color: c("string") },
    { tag: t.special(t.string), color: c("string2") },
    { tag: t.bracket, color: c("bracket") },
  ]);
}

function chrome(dark) {
  const fg = dark ? "#d4d4d4" : "#1f2328";
  const bg = dark ? "#1e1e1e" : "#ffffff";
  const alt = dark ? "#252526" : "#f6f8fa";
  const border = dark ? "#3c3c3c" : "#d0d7de";
  return EditorView.theme(
    {
      "&": {
        color: `var(--jp-content-font-color1, ${fg})`,
        backgroundColor: `var(--jp-cell-editor-background, ${bg})`,
        fontSize: "var(--jp-code-font-size, 13px)",
        maxHeight: "32em",
      },
      "&.cm-focused": { outline: "none" },
      ".cm-scroller": {
        fontFamily: "var(--jp-code-font-family, ui-monospace, SFMono-Regular, Menlo, monospace)",
        lineHeight: "var(--jp-code-line-height, 1.4)",
        overflow: "auto",
      },
      ".cm-content": { caretColor: `var(--jp-editor-cursor-color, ${fg})`, minHeight: "10em" },
      ".cm-cursor, .cm-dropCursor": { borderLeftColor: `var(--jp-editor-cursor-color, ${fg})` },
      ".cm-selectionBackground, .cm-content ::selection": {
        backgroundColor: `var(--jp-editor-selected-background, ${dark ? "#3a3d41" : "#d9d9d9"})`,
      },
      "&.cm-focused > .cm-scroller > .cm-selectionLayer .cm-selectionBackground": {
        backgroundColor: `var(--jp-editor-selected-focused-background, ${dark ? "#264f78" : "#d7d4f0"})`,
      },
      ".cm-gutters": {
        color: `var(--jp-ui-font-color2, ${dark ? "#858585" : "#59636e"})`,
        backgroundColor: `var(--jp-layout-color2, ${alt})`,
        borderRight: `1px solid var(--jp-border-color2, ${border})`,
      },
      ".cm-activeLine": {
        backgroundColor: `color-mix(in srgb, var(--jp-layout-color3, ${dark ? "#505050" : "#bdbdbd"}) 25%, transparent)`,
      },
      ".cm-activeLineGutter": { backgroundColor: "transparent", color: `var(--jp-ui-font-color1, ${fg})` },
      ".cm-panels": {
        color: `var(--jp-ui-font-color1, ${fg})`,
        backgroundColor: `var(--jp-layout-color2, ${alt})`,
      },
      ".cm-panels.cm-panels-bottom": { borderTop: `1px solid var(--jp-border-color2, ${border})` },
      ".cm-textfield": {
        color: `var(--jp-ui-font-color1, ${fg})`,
        backgroundColor: `var(--jp-layout-color1, ${bg})`,
        border: `1px solid var(--jp-border-color1, ${border})`,
      },
      ".cm-button": {
        color: `var(--jp-ui-font-color1, ${fg})`,
        backgroundImage: "none",
        backgroundColor: `var(--jp-layout-color2, ${alt})`,
        border: `1px solid var(--jp-border-color1, ${border})`,
      },
      ".cm-searchMatch": {
        backgroundColor: `var(--jp-search-unselected-match-background-color, ${dark ? "#5e5e5e" : "#e0e0e0"})`,
      },
      ".cm-searchMatch.cm-searchMatch-selected": {
        backgroundColor: `var(--jp-search-selected-match-background-color, ${dark ? "#ff9800" : "#ffb74d"})`,
      },
      ".hr-error-line": { backgroundColor: "color-mix(in srgb, var(--jp-error-color1, #d32f2f) 16%, transparent)" },
    },
    { dark },
  );
}

const look = new Compartment();

function lookFor(dark) {
  return [chrome(dark), syntaxHighlighting(highlightStyle(dark))];
}

const following = new Set();
let observer = null;

function retheme() {
  const dark = pageIsDark();
  for (const view of following) {
    if (view.hrDark === dark) continue;
    view.hrDark = dark;
    view.dispatch({ effects: look.reconfigure(lookFor(dark)) });
    view.dom.dataset.theme = dark ? "dark" : "light";
  }
}

/** The extensions that colour an editor; stable token classes (tok-keyword, ...) too. */
export function themeExtensions() {
  return [look.of(lookFor(pageIsDark())), syntaxHighlighting(classHighlighter)];
}

/** Keep ``view`` in the page's theme (JupyterLab can switch theme at any time). */
export function followTheme(view) {
  view.hrDark = pageIsDark();
  view.dom.dataset.theme = view.hrDark ? "dark" : "light";
  following.add(view);
  if (!observer && typeof MutationObserver !== "undefined" && document.body) {
    observer = new MutationObserver(retheme);
    observer.observe(document.body, { attributes: true, attributeFilter: ["data-jp-theme-light", "class"] });
  }
  return () => {
    following.delete(view);
    if (!following.size && observer) {
      observer.disconnect();
      observer = null;
    }
  };
}
