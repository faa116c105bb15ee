// One CodeMirror 6 editor for Python source: highlighting, line numbers, bracket matching,
// auto-indent, undo/redo, search, the page's theme. Mod-S saves.
import {
  defaultKeymap,
  history,
  historyKeymap,
  indentLess,
  indentMore,
} from "@codemirror/commands";
import { pythonLanguage } from "@codemirror/lang-python";
import { bracketMatching, indentOnInput, indentUnit, LanguageSupport } from "@codemirror/language";
import { highlightSelectionMatches, search, searchKeymap } from "@codemirror/search";
import { EditorSelection, EditorState, StateEffect, StateField } from "@codemirror/state";
import {
  Decoration,
  drawSelection,
  EditorView,
  highlightActiveLine,
  highlightActiveLineGutter,
  highlightSpecialChars,
  keymap,
  lineNumbers,
} from "@codemirror/view";
import { followTheme, themeExtensions } from "./theme.js";

const INDENT = "    ";

/** Tab: spaces up to the next multiple of four at the caret; with a selection, indent it. */
function tabForward(view) {
  const { state } = view;
  if (state.readOnly) return false;
  if (state.selection.ranges.some((range) => !range.empty)) return indentMore(view);
  view.dispatch(
    state.changeByRange((range) => {
      const line = state.doc.lineAt(range.head);
      const spaces = INDENT.length - ((range.head - line.from) % INDENT.length);
      return {
        changes: { from: range.head, insert: " ".repeat(spaces) },
        range: EditorSelection.cursor(range.head + spaces),
      };
    }),
    { scrollIntoView: true, userEvent: "input.indent" },
  );
  return true;
}

// The line an error points at, marked until the text changes.
const markErrorLine = StateEffect.define();
const errorLine = StateField.define({
  create: () => Decoration.none,
  update(marks, tr) {
    for (const effect of tr.effects) {
      if (!effect.is(markErrorLine)) continue;
      if (effect.value === null) return Decoration.none;
      const line = tr.state.doc.line(effect.value);
      return Decoration.set([Decoration.line({ class: "hr-error-line" }).range(line.from)]);
    }
    return tr.docChanged ? Decoration.none : marks;
  },
  provide: (field) => EditorView.decorations.from(field),
});

function extensions({ readOnly, onSave, onChange, label }) {
  const keys = [];
  if (onSave) keys.push({ key: "Mod-s", run: () => (onSave(), true), preventDefault: true });
  keys.push({ key: "Tab", run: tabForward, shift: indentLess });
  return [
    lineNumbers(),
    highlightActiveLineGutter(),
    highlightSpecialChars(),
    history(),
    drawSelection(),
    EditorState.allowMultipleSelections.of(false),
    EditorState.tabSize.of(4),
    indentUnit.of(INDENT),
    new LanguageSupport(pythonLanguage),
    indentOnInput(),
    bracketMatching(),
    highlightActiveLine(),
    highlightSelectionMatches(),
    search({ top: true }),
    errorLine,
    themeExtensions(),
    EditorState.readOnly.of(readOnly),
    EditorView.editable.of(!readOnly),
    EditorView.contentAttributes.of({ "aria-label": label }),
    keymap.of([...keys, ...searchKeymap, ...historyKeymap, ...defaultKeymap]),
    EditorView.updateListener.of((update) => {
      if (update.docChanged && onChange) onChange(update);
    }),
  ];
}

/**
 * A Python editor in ``parent``. ``text()`` reads it, ``replace(text)`` puts new text in as
 * one undoable change, ``reset(text)`` starts afresh (a new definition: no undo into the
 * last one), ``markLine(n)`` marks the line an error points at (n from 1; null clears).
 */
export function codeEditor({ parent, doc = "", readOnly = false, onSave = null, onChange = null, label = "source" }) {
  const config = { readOnly, onSave, onChange, label };
  const view = new EditorView({
    parent,
    state: EditorState.create({ doc, extensions: extensions(config) }),
  });
  const unfollow = followTheme(view);
  return {
    view,
    text: () => view.state.doc.toString(),
    replace(text) {
      if (text === view.state.doc.toString()) return;
      view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text }, userEvent: "input.replace" });
    },
    reset(text) {
      view.setState(EditorState.create({ doc: text, extensions: extensions(config) }));
    },
    focus(at = 0) {
      view.focus();
      view.dispatch({ selection: EditorSelection.cursor(Math.min(at, view.state.doc.length)) });
    },
    markLine(lineno) {
      const valid = lineno && lineno >= 1 && lineno <= view.state.doc.lines;
      const effects = markErrorLine.of(valid ? lineno : null);
      if (!valid) {
        view.dispatch({ effects });
        return;
      }
      const line = view.state.doc.line(lineno);
      view.dispatch({ effects, selection: EditorSelection.range(line.from, line.to), scrollIntoView: true });
      view.focus();
    },
    destroy() {
      unfollow();
      view.destroy();
    },
  };
}

/** The extensions of a read-only Python view (the text on disk in a conflict). */
export function readOnlyExtensions(label) {
  return extensions({ readOnly: true, onSave: null, onChange: null, label });
}

/** The extensions of an editable Python view that saves with Mod-S (yours, in a conflict). */
export function editableExtensions(label, onSave) {
  return extensions({ readOnly: false, onSave, onChange: null, label });
}
