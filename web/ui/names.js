// Resource names in forms: the rules the registry enforces, from /ui/model.js, which the
// registry makes from lib/model (the one copy of the rules, shared with the connector
// runtime and the CLI). A form shows and checks what the server will say, and a change of
// a rule reaches the UI without an edit here.
import { nameRules } from './model.js';

// The rule in words for a form's help line, e.g. "3 to 64 characters: lowercase letters,
// digits and '-', starting and ending with a letter or digit." kind is a kind name
// ("Namespace", "Device", "Asset", ...) or "Secret".
export function nameHelp(kind) {
    const r = nameRules[kind];
    return `${r.minLength} to ${r.maxLength} characters: ${r.text}.`;
}

// Attributes for the <input> of a name: pattern, minlength, maxlength. Browsers compile a
// pattern attribute whole and with the 'v' flag, where '-' must be escaped inside a class,
// so the anchors go and "-]" becomes "\-]".
export function nameInputAttrs(kind) {
    const r = nameRules[kind];
    const pattern = r.pattern.replace(/^\^/, '').replace(/\$$/, '').replace(/-\]/g, '\\-]');
    return { pattern, minlength: r.minLength, maxlength: r.maxLength };
}
